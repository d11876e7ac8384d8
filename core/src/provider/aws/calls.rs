//! A log of every request the SDK clients send, recorded by an interceptor at transmit time (so
//! pages and retries count): what the refresh test and the API-call benchmark count.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

use aws_sdk_ec2::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_ec2::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_ec2::error::BoxError;
use aws_smithy_runtime_api::client::orchestrator::Metadata;

/// Requests sent, as `Operation` names (`DescribeVpcs`), in order. Cloning shares the log.
#[derive(Debug, Clone, Default)]
pub struct CallLog(Arc<Mutex<Vec<String>>>);

impl CallLog {
    pub(crate) fn interceptor(&self) -> CallLogInterceptor {
        CallLogInterceptor(self.clone())
    }

    fn record(&self, operation: &str) {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).push(operation.to_owned());
    }

    /// Every request in order.
    pub fn all(&self) -> Vec<String> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// Requests per operation.
    pub fn counts(&self) -> BTreeMap<String, usize> {
        let mut counts = BTreeMap::new();
        for op in self.all() {
            *counts.entry(op).or_insert(0) += 1;
        }
        counts
    }

    /// How many requests of `operation` were sent.
    pub fn count(&self, operation: &str) -> usize {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .filter(|o| *o == operation)
            .count()
    }

    pub fn total(&self) -> usize {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).len()
    }

    pub fn clear(&self) {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).clear();
    }
}

#[derive(Debug)]
pub(crate) struct CallLogInterceptor(CallLog);

impl Intercept for CallLogInterceptor {
    fn name(&self) -> &'static str {
        "ecsops-call-log"
    }

    fn read_before_transmit(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let operation = cfg.load::<Metadata>().map_or("unknown", Metadata::name);
        self.0.record(operation);
        Ok(())
    }
}
