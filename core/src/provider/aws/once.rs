//! Calls that must not be sent twice blindly. The SDK resends a request whose transport failed,
//! which is right for reads and updates, but a `CreateVpc` whose response was lost has already
//! made a VPC: resending it makes a twin, and resending a `CreateRole` fails on the role it
//! made. Every call that creates something therefore goes out with [`NotResent`], so a failure
//! whose outcome is unknown reaches the create step, and the step runs again from the top, where
//! it looks for what the first attempt made (by its ownership tags) before creating anything.
//! That includes calls AWS deduplicates (a client token, a load balancer of the same name and
//! settings): emulators do not, and the re-run is right for both. Only calls that are upserts
//! everywhere (`CreateCluster`, `CreateTopic`, `PutRule`, `PutTargets`, `Subscribe`) are resent.

use aws_smithy_runtime_api::client::interceptors::context::InterceptorContext;
use aws_smithy_runtime_api::client::retries::classifiers::{
    ClassifyRetry, RetryAction, RetryClassifierPriority,
};

use crate::provider::ProviderError;

/// Sends a fluent call that the SDK must not resend after a transport failure (see the module
/// docs), and names a failure for the resource at `$address`, as [`send!`](super::send) does.
macro_rules! send_once {
    ($address:expr, $call:expr $(,)?) => {
        $crate::provider::aws::AwsResultExt::at(
            $crate::provider::aws::once::NotResentOnce::not_resent($call.customize()).send().await,
            $address,
        )
    };
}
pub(crate) use send_once;

/// A call's customization with [`NotResent`] in place of the standard resend rule.
pub(crate) trait NotResentOnce {
    fn not_resent(self) -> Self;
}

/// [`NotResentOnce`] for the customizable calls of each service crate that creates something.
macro_rules! not_resent_once {
    ($($krate:ident),+) => {$(
        impl<T, E, B> NotResentOnce for $krate::client::customize::CustomizableOperation<T, E, B> {
            fn not_resent(self) -> Self {
                self.config_override($krate::config::Builder::default().retry_classifier(NotResent))
            }
        }
    )+};
}

not_resent_once!(
    aws_sdk_autoscaling,
    aws_sdk_cloudwatchlogs,
    aws_sdk_ec2,
    aws_sdk_ecs,
    aws_sdk_elasticloadbalancing,
    aws_sdk_elasticloadbalancingv2,
    aws_sdk_iam
);

/// The failures after which nobody knows whether AWS acted: the connection broke or timed out
/// once the request may have left, or the answer could not be read.
const OUTCOME_UNKNOWN: [&str; 3] = ["DispatchFailure", "TimeoutError", "ResponseError"];

/// How many times a create step whose outcome was unknown runs again.
pub(crate) const RERUNS: u32 = 3;

impl ProviderError {
    /// Whether AWS may have acted on the request that failed.
    pub(crate) fn outcome_unknown(&self) -> bool {
        matches!(self, Self::Aws { code, .. } if OUTCOME_UNKNOWN.contains(&code.as_str()))
    }
}

/// Forbids resending after a transport failure (throttling and server errors, which AWS
/// answered, are still retried by the classifiers before it).
#[derive(Debug, Clone, Copy)]
pub(crate) struct NotResent;

impl ClassifyRetry for NotResent {
    fn classify_retry(&self, ctx: &InterceptorContext) -> RetryAction {
        match ctx.output_or_error() {
            Some(Err(e))
                if e.is_connector_error() || e.is_timeout_error() || e.is_response_error() =>
            {
                RetryAction::RetryForbidden
            }
            _ => RetryAction::NoActionIndicated,
        }
    }

    fn name(&self) -> &'static str {
        "ecsops: no blind resend of a non-idempotent call"
    }

    fn priority(&self) -> RetryClassifierPriority {
        RetryClassifierPriority::run_after(RetryClassifierPriority::transient_error_classifier())
    }
}

#[cfg(test)]
mod tests {
    use aws_smithy_runtime_api::client::interceptors::context::{Input, Output};
    use aws_smithy_runtime_api::client::orchestrator::OrchestratorError;
    use aws_smithy_runtime_api::client::result::ConnectorError;

    use super::*;

    fn after(
        result: Result<
            Output,
            OrchestratorError<aws_smithy_runtime_api::client::interceptors::context::Error>,
        >,
    ) -> RetryAction {
        let mut ctx = InterceptorContext::new(Input::doesnt_matter());
        ctx.set_output_or_error(result);
        NotResent.classify_retry(&ctx)
    }

    #[test]
    fn a_broken_or_timed_out_transport_is_not_resent() {
        let io = ConnectorError::io("connection closed before message completed".into());
        assert_eq!(after(Err(OrchestratorError::connector(io))), RetryAction::RetryForbidden);
        let timeout = ConnectorError::timeout("read timed out".into());
        assert_eq!(after(Err(OrchestratorError::connector(timeout))), RetryAction::RetryForbidden);
    }

    #[test]
    fn answers_are_left_to_the_standard_classifiers() {
        assert_eq!(after(Ok(Output::doesnt_matter())), RetryAction::NoActionIndicated);
        let answered = OrchestratorError::operation(
            aws_smithy_runtime_api::client::interceptors::context::Error::doesnt_matter(),
        );
        assert_eq!(after(Err(answered)), RetryAction::NoActionIndicated);
    }

    /// Through `aws_error`, which names the SDK's failures: the names cannot drift apart.
    #[test]
    fn only_transport_failures_leave_the_outcome_unknown() {
        use aws_sdk_ec2::error::{ErrorMetadata, SdkError};
        use aws_sdk_ec2::operation::create_vpc::CreateVpcError;

        let a = crate::graph::Address::new("vpc");
        let unknown =
            |e: SdkError<CreateVpcError, ()>| super::super::aws_error(&a, &e).outcome_unknown();
        assert!(unknown(SdkError::dispatch_failure(ConnectorError::io("connection reset".into()))));
        assert!(unknown(SdkError::timeout_error("read timed out")));
        assert!(unknown(SdkError::response_error("unreadable answer", ())));
        assert!(!unknown(SdkError::construction_failure("bad input")));
        let refused =
            CreateVpcError::generic(ErrorMetadata::builder().code("VpcLimitExceeded").build());
        assert!(!unknown(SdkError::service_error(refused, ())));
    }
}
