//! The S3 backend: `s3://<bucket>/<prefix>/<env>/state.json`, locked by `lock.json` beside it,
//! with S3 conditional writes and no DynamoDB.
//!
//! - Lock: `PutObject lock.json` with `If-None-Match: *`. The SDK retries failed requests, so a
//!   lock write whose first attempt succeeded but whose response was lost comes back as 412
//!   against our own lock (OpenTofu had exactly this bug: a lock never released). So on 412 the
//!   lock is read back and counts as taken when its id is ours. A store that ignores the
//!   condition (some S3-compatible ones) would let two runs both hold the lock: the same
//!   conditional write is sent a second time, and a store that accepts it is refused.
//! - Release: `DeleteObject` with `If-Match: <etag of the lock we read>`, after checking the id.
//! - Writes: `PutObject state.json` with `If-Match: <etag read>` (or `If-None-Match: *` for the
//!   first write); a 412 means another writer won and is an error, never an overwrite.
//! - History: as in the local backend, each apply's last write and each push is copied to
//!   `history/<serial>.json` beside the state, with the writer and what wrote it in its
//!   metadata, and the newest `keep_versions` copies are kept. Listing the history reads those
//!   keys, not the bucket's versions: versioning keeps every step of every apply as well,
//!   thousands of versions whose serials only a request each would tell.

use aws_sdk_s3::Client;
use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::operation::head_object::HeadObjectError;
use aws_sdk_s3::operation::list_objects_v2::ListObjectsV2Output;
use aws_sdk_s3::operation::put_object::builders::PutObjectFluentBuilder;
use aws_sdk_s3::primitives::ByteStream;

use super::State;
use super::backend::{HistoryEntry, Stored, Version, WriteKind, s3_key};
use super::error::StateError;
use super::local::{KEEP_VERSIONS, check_environment, check_replace, parse, serialize};
use super::lock::{LockInfo, now, releasable, who};
use crate::account::Credentials;
use crate::provider::aws;
use crate::provider::aws::identity::configure;

/// What a written version's metadata says: its serial, who wrote it and when, and what wrote it
/// (an apply's summary; empty for a push).
struct Stamp {
    serial: u64,
    who: String,
    when: String,
    summary: String,
}

/// How many versions' metadata the history reads at once.
const HEADS_AT_ONCE: usize = 16;

#[derive(Debug, Clone)]
pub struct S3Backend {
    client: Client,
    bucket: String,
    prefix: String,
    environment: String,
    keep_versions: usize,
}

/// Bucket settings that protect state, as found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BucketHygiene {
    pub versioning: bool,
    pub encryption: bool,
    pub public_access_blocked: bool,
}

impl BucketHygiene {
    pub fn is_sound(&self) -> bool {
        self.versioning && self.encryption && self.public_access_blocked
    }
}

fn precondition_failed<E: ProvideErrorMetadata>(e: &aws_sdk_s3::error::SdkError<E>) -> bool {
    e.code() == Some("PreconditionFailed")
        || e.raw_response().is_some_and(|r| r.status().as_u16() == 412)
}

impl S3Backend {
    /// Connects with `credentials` (the standard chain, a profile, an assumed role). `AWS_ENDPOINT_URL` (tests: moto) is
    /// honoured, with path-style addressing since an endpoint override rarely resolves bucket
    /// subdomains. Without an explicit `region`, the bucket says where it is (HeadBucket's
    /// `x-amz-bucket-region`); `fallback` is asked first.
    pub async fn connect(
        bucket: &str,
        prefix: &str,
        region: Option<&str>,
        fallback: Option<&str>,
        environment: &str,
        credentials: &Credentials,
    ) -> Self {
        let first = region.or(fallback);
        let backend = Self::in_region(bucket, prefix, first, environment, credentials).await;
        if region.is_some() {
            return backend;
        }
        match backend.bucket_region().await {
            Some(own) if Some(own.as_str()) != first => {
                tracing::info!(bucket, region = %own, "the state bucket is in its own region");
                Self::in_region(bucket, prefix, Some(&own), environment, credentials).await
            }
            Some(own) => {
                tracing::info!(bucket, region = %own, "state bucket region");
                backend
            }
            None => backend,
        }
    }

    async fn in_region(
        bucket: &str,
        prefix: &str,
        region: Option<&str>,
        environment: &str,
        credentials: &Credentials,
    ) -> Self {
        let mut loader = aws::config_loader(aws::ATTEMPT_TIMEOUT);
        if let Some(r) = region {
            loader = loader.region(aws_config::Region::new(r.to_owned()));
        }
        let shared = configure(loader, credentials).await;
        let endpoint_override = std::env::var_os("AWS_ENDPOINT_URL").is_some()
            || std::env::var_os("AWS_ENDPOINT_URL_S3").is_some();
        let config =
            aws_sdk_s3::config::Builder::from(&shared).force_path_style(endpoint_override).build();
        Self::with_client(Client::from_conf(config), bucket, prefix, environment)
    }

    /// Keeps at most `n` versions in `history/` (at least one).
    #[must_use]
    pub fn keeping(mut self, n: usize) -> Self {
        self.keep_versions = n.max(1);
        self
    }

    /// The bucket's region as S3 reports it, also on a refusal (a request to the wrong region
    /// is answered with the right one); `None` when it cannot be told (no bucket, no access).
    async fn bucket_region(&self) -> Option<String> {
        match self.client.head_bucket().bucket(&self.bucket).send().await {
            Ok(out) => out.bucket_region().map(str::to_owned),
            Err(e) => e
                .raw_response()
                .and_then(|r| r.headers().get("x-amz-bucket-region"))
                .map(str::to_owned),
        }
    }

    /// A backend on an existing client (tests configure one for the emulator).
    pub fn with_client(client: Client, bucket: &str, prefix: &str, environment: &str) -> Self {
        Self {
            client,
            bucket: bucket.to_owned(),
            prefix: prefix.to_owned(),
            environment: environment.to_owned(),
            keep_versions: KEEP_VERSIONS,
        }
    }

    fn key(&self, name: &str) -> String {
        s3_key(&self.prefix, &self.environment, name)
    }

    fn location(&self, name: &str) -> String {
        format!("s3://{}/{}", self.bucket, self.key(name))
    }

    fn aws<E: ProvideErrorMetadata + std::error::Error + 'static>(
        &self,
        operation: &'static str,
        name: &str,
        e: &aws_sdk_s3::error::SdkError<E>,
    ) -> StateError {
        // As for STS: a dispatch failure that is no connection failure is the credentials'.
        if let aws_sdk_s3::error::SdkError::DispatchFailure(d) = e
            && !crate::provider::aws::unreachable(d)
        {
            return StateError::Credentials {
                operation,
                location: self.location(name),
                reason: crate::provider::aws::error_chain(e),
            };
        }
        StateError::Aws {
            operation,
            location: self.location(name),
            code: e.code().map(str::to_owned),
            // A short chain of causes, never the SDK's debug dump.
            message: e
                .message()
                .map_or_else(|| crate::provider::aws::error_chain(e), str::to_owned),
        }
    }

    /// The object's bytes and ETag, or `None` when it does not exist.
    async fn get(&self, name: &str) -> Result<Option<(Vec<u8>, String)>, StateError> {
        let out =
            match self.client.get_object().bucket(&self.bucket).key(self.key(name)).send().await {
                Ok(o) => o,
                // A missing bucket is an error, never "no state yet": a mistyped bucket must not
                // look like a new environment.
                Err(e) if e.code() == Some("NoSuchBucket") => {
                    return Err(StateError::NoBucket { bucket: self.bucket.clone() });
                }
                Err(e)
                    if e.code() == Some("NoSuchKey")
                        || e.raw_response().is_some_and(|r| r.status().as_u16() == 404) =>
                {
                    return Ok(None);
                }
                Err(e) => return Err(self.aws("GetObject", name, &e)),
            };
        let etag = out.e_tag().unwrap_or_default().to_owned();
        let bytes = out.body.collect().await.map_err(|e| StateError::Aws {
            operation: "GetObject",
            location: self.location(name),
            code: None,
            message: e.to_string(),
        })?;
        Ok(Some((bytes.into_bytes().to_vec(), etag)))
    }

    pub async fn read(&self) -> Result<Option<Stored>, StateError> {
        let Some((bytes, version)) = self.read_raw().await? else {
            return Ok(None);
        };
        let state = parse(&self.environment, &self.location("state.json"), &bytes)?;
        Ok(Some(Stored { state, version }))
    }

    /// The stored document's bytes and version (its ETag), parsed or not.
    pub async fn read_raw(&self) -> Result<Option<(Vec<u8>, Version)>, StateError> {
        Ok(self.get("state.json").await?.map(|(bytes, etag)| (bytes, Version(etag))))
    }

    /// Writes `state` if the stored document is still the one `expected` names (`None`: there
    /// must be none yet); its metadata says what `kind` says wrote it.
    pub async fn write(
        &self,
        state: &State,
        expected: Option<&Version>,
        kind: WriteKind,
    ) -> Result<Version, StateError> {
        check_environment(&self.environment, state)?;
        let raw = self.read_raw().await?;
        let raw = raw.as_ref().map(|(b, v)| (b.as_slice(), v));
        check_replace(&self.environment, &self.location("state.json"), raw, state, expected, kind)?;
        let bytes = serialize(state);
        let stamp = Stamp {
            serial: state.serial,
            who: who(),
            when: now(),
            summary: kind.summary(state).unwrap_or_default(),
        };
        // An apply's last write and a push are kept in the history too; a step is not.
        let kept = (kind != WriteKind::Step).then(|| bytes.clone());
        let put = self.put_document(self.key("state.json"), &stamp, bytes);
        let put = match expected {
            Some(v) => put.if_match(&v.0),
            None => put.if_none_match("*"),
        };
        match put.send().await {
            Ok(out) => {
                if let Some(bytes) = kept {
                    self.keep_history(&stamp, bytes).await;
                }
                Ok(Version(out.e_tag().unwrap_or_default().to_owned()))
            }
            Err(e) if precondition_failed(&e) => {
                let serial = self.read().await.ok().flatten().map_or(0, |s| s.state.serial);
                Err(StateError::Conflict {
                    environment: self.environment.clone(),
                    current_serial: serial,
                })
            }
            Err(e) => Err(self.aws("PutObject", "state.json", &e)),
        }
    }

    /// Takes the lock: a lock already there is reported without writing; otherwise an
    /// `If-None-Match: *` write creates it, a second such write must be refused (or the store
    /// ignores the condition and cannot lock at all), and a read-back confirms the content is
    /// ours (an emulator racing two writers lets both through, and the last content wins).
    pub async fn lock(&self, info: &LockInfo) -> Result<(), StateError> {
        match self.read_lock().await? {
            Some(holder) if holder.id == info.id => return Ok(()),
            Some(holder) => return Err(self.held(holder)),
            None => {}
        }
        let taken = self.write_lock(info).await;
        if taken.is_err() {
            // Our write may have landed before what failed (its lost answer, the probe, the
            // read-back): release it if it is ours, so no error leaves a lock behind.
            let _ = self.unlock(&info.id).await;
        }
        taken
    }

    /// [`Self::lock`] once no lock was found: the conditional write, the probe, the read-back.
    async fn write_lock(&self, info: &LockInfo) -> Result<(), StateError> {
        let body = serde_json::to_vec_pretty(info).unwrap_or_default();
        match self.create_lock(&body).await {
            Ok(()) => {}
            // Someone's lock appeared since the read, or our own earlier attempt succeeded and
            // only its response was lost (then the SDK's retry meets it): the read at the top
            // tells which, or finds it released and writes again.
            Err(e) if precondition_failed(&e) => return Box::pin(self.lock(info)).await,
            Err(e) => return Err(self.aws("PutObject", "lock.json", &e)),
        }
        match self.create_lock(&body).await {
            Err(e) if precondition_failed(&e) => {}
            Err(e) => return Err(self.aws("PutObject", "lock.json", &e)),
            Ok(()) => {
                return Err(StateError::Unconditional {
                    environment: self.environment.clone(),
                    location: self.location("lock.json"),
                });
            }
        }
        match self.read_lock().await? {
            Some(holder) if holder.id != info.id => Err(self.held(holder)),
            _ => Ok(()),
        }
    }

    async fn create_lock(
        &self,
        body: &[u8],
    ) -> Result<(), aws_sdk_s3::error::SdkError<aws_sdk_s3::operation::put_object::PutObjectError>>
    {
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(self.key("lock.json"))
            .content_type("application/json")
            .if_none_match("*")
            .body(ByteStream::from(body.to_vec()))
            .send()
            .await
            .map(|_| ())
    }

    fn held(&self, holder: LockInfo) -> StateError {
        StateError::LockHeld { environment: self.environment.clone(), holder: Box::new(holder) }
    }

    async fn lock_with_etag(&self) -> Result<Option<(LockInfo, String)>, StateError> {
        let Some((bytes, etag)) = self.get("lock.json").await? else {
            return Ok(None);
        };
        let info = serde_json::from_slice(&bytes).map_err(|e| StateError::LockCorrupt {
            environment: self.environment.clone(),
            location: self.location("lock.json"),
            reason: format!("{e}; delete the object by hand"),
        })?;
        Ok(Some((info, etag)))
    }

    pub async fn read_lock(&self) -> Result<Option<LockInfo>, StateError> {
        Ok(self.lock_with_etag().await?.map(|(i, _)| i))
    }

    pub async fn unlock(&self, id: &str) -> Result<(), StateError> {
        let found = self.lock_with_etag().await?;
        let etag = found.as_ref().map(|(_, e)| e.clone()).unwrap_or_default();
        releasable(&self.environment, found.map(|(held, _)| held), id)?;
        self.client
            .delete_object()
            .bucket(&self.bucket)
            .key(self.key("lock.json"))
            .if_match(etag)
            .send()
            .await
            .map_err(|e| self.aws("DeleteObject", "lock.json", &e))?;
        Ok(())
    }

    /// A `PutObject` of the state document `bytes` at `key`, its metadata saying what `stamp`
    /// says of the write.
    fn put_document(&self, key: String, stamp: &Stamp, bytes: Vec<u8>) -> PutObjectFluentBuilder {
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type("application/json")
            .metadata("serial", stamp.serial.to_string())
            .metadata("who", &stamp.who)
            .metadata("when", &stamp.when)
            .metadata("summary", &stamp.summary)
            .body(ByteStream::from(bytes))
    }

    /// Best effort: history is a convenience, the state itself is already safe.
    async fn keep_history(&self, stamp: &Stamp, bytes: Vec<u8>) {
        let kept = self.put_document(self.history_key(stamp.serial), stamp, bytes).send().await;
        if kept.is_err() {
            return;
        }
        let Ok(serials) = self.kept_serials().await else {
            return;
        };
        // Retention: the newest `keep_versions`.
        let excess = serials.len().saturating_sub(self.keep_versions);
        for old in &serials[..excess] {
            let _ = self
                .client
                .delete_object()
                .bucket(&self.bucket)
                .key(self.history_key(*old))
                .send()
                .await;
        }
    }

    fn history_key(&self, serial: u64) -> String {
        self.key(&format!("history/{serial:010}.json"))
    }

    /// The serials `history/` keeps, oldest first.
    async fn kept_serials(&self) -> Result<Vec<u64>, StateError> {
        let prefix = self.key("history/");
        let pages = self
            .client
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(&prefix)
            .into_paginator()
            .send()
            .collect::<Result<Vec<_>, _>>()
            .await
            .map_err(|e| self.aws("ListObjectsV2", "history/", &e))?;
        let mut serials: Vec<u64> = pages
            .iter()
            .flat_map(ListObjectsV2Output::contents)
            .filter_map(|o| o.key()?.strip_prefix(&prefix)?.strip_suffix(".json")?.parse().ok())
            .collect();
        serials.sort_unstable();
        Ok(serials)
    }

    /// The kept versions, newest first, each version's metadata read a few at a time.
    pub async fn history(&self) -> Result<Vec<HistoryEntry>, StateError> {
        let mut out = Vec::new();
        for batch in self.kept_serials().await?.chunks(HEADS_AT_ONCE) {
            let mut heads = tokio::task::JoinSet::new();
            for &serial in batch {
                let this = self.clone();
                heads.spawn(async move { this.kept(serial).await });
            }
            while let Some(entry) = heads.join_next().await {
                out.extend(entry.map_err(|e| StateError::Aws {
                    operation: "HeadObject",
                    location: self.location("history/"),
                    code: None,
                    message: e.to_string(),
                })??);
            }
        }
        out.sort_by_key(|h| std::cmp::Reverse(h.serial));
        Ok(out)
    }

    /// The history entry of the version kept for `serial`; `None` when another writer's
    /// retention removed it since the listing.
    async fn kept(&self, serial: u64) -> Result<Option<HistoryEntry>, StateError> {
        let key = self.history_key(serial);
        let head = match self.client.head_object().bucket(&self.bucket).key(&key).send().await {
            Ok(head) => head,
            Err(e) if e.as_service_error().is_some_and(HeadObjectError::is_not_found) => {
                return Ok(None);
            }
            Err(e) => {
                return Err(self.aws("HeadObject", &format!("history/{serial:010}.json"), &e));
            }
        };
        let field = |name: &str| head.metadata().and_then(|m| m.get(name)).cloned();
        Ok(Some(HistoryEntry {
            serial,
            when: field("when").or_else(|| head.last_modified().map(ToString::to_string)),
            who: field("who"),
            summary: field("summary").filter(|s| !s.is_empty()),
            version: format!("s3://{}/{key}", self.bucket),
        }))
    }

    /// Versioning, default encryption and blocked public access, as the bucket has them.
    pub async fn hygiene(&self) -> BucketHygiene {
        let c = &self.client;
        // A setting that cannot be read counts as off: this is a report, and must not keep
        // anyone from their state (moto, for one, answers an unversioned bucket in a shape
        // the SDK cannot parse).
        let versioning = c
            .get_bucket_versioning()
            .bucket(&self.bucket)
            .send()
            .await
            .ok()
            .and_then(|o| o.status().cloned())
            .is_some_and(|s| s == aws_sdk_s3::types::BucketVersioningStatus::Enabled);
        let encryption =
            c.get_bucket_encryption().bucket(&self.bucket).send().await.is_ok_and(|o| {
                o.server_side_encryption_configuration().is_some_and(|c| !c.rules().is_empty())
            });
        let public_access_blocked = c
            .get_public_access_block()
            .bucket(&self.bucket)
            .send()
            .await
            .ok()
            .and_then(|o| o.public_access_block_configuration().cloned())
            .is_some_and(|p| {
                p.block_public_acls() == Some(true)
                    && p.ignore_public_acls() == Some(true)
                    && p.block_public_policy() == Some(true)
                    && p.restrict_public_buckets() == Some(true)
            });
        BucketHygiene { versioning, encryption, public_access_blocked }
    }

    /// Turns on what [`S3Backend::hygiene`] found missing.
    pub async fn fix_hygiene(&self, found: &BucketHygiene) -> Result<(), StateError> {
        use aws_sdk_s3::types::{
            BucketVersioningStatus, PublicAccessBlockConfiguration, ServerSideEncryption,
            ServerSideEncryptionByDefault, ServerSideEncryptionConfiguration,
            ServerSideEncryptionRule, VersioningConfiguration,
        };
        let c = &self.client;
        let invalid = |e: aws_sdk_s3::error::BuildError| StateError::Aws {
            operation: "PutBucketEncryption",
            location: format!("s3://{}", self.bucket),
            code: None,
            message: e.to_string(),
        };
        if !found.versioning {
            c.put_bucket_versioning()
                .bucket(&self.bucket)
                .versioning_configuration(
                    VersioningConfiguration::builder()
                        .status(BucketVersioningStatus::Enabled)
                        .build(),
                )
                .send()
                .await
                .map_err(|e| self.aws("PutBucketVersioning", "", &e))?;
        }
        if !found.encryption {
            let default = ServerSideEncryptionByDefault::builder()
                .sse_algorithm(ServerSideEncryption::Aes256)
                .build()
                .map_err(invalid)?;
            let rules = ServerSideEncryptionConfiguration::builder()
                .rules(
                    ServerSideEncryptionRule::builder()
                        .apply_server_side_encryption_by_default(default)
                        .build(),
                )
                .build()
                .map_err(invalid)?;
            c.put_bucket_encryption()
                .bucket(&self.bucket)
                .server_side_encryption_configuration(rules)
                .send()
                .await
                .map_err(|e| self.aws("PutBucketEncryption", "", &e))?;
        }
        if !found.public_access_blocked {
            c.put_public_access_block()
                .bucket(&self.bucket)
                .public_access_block_configuration(
                    PublicAccessBlockConfiguration::builder()
                        .block_public_acls(true)
                        .ignore_public_acls(true)
                        .block_public_policy(true)
                        .restrict_public_buckets(true)
                        .build(),
                )
                .send()
                .await
                .map_err(|e| self.aws("PutPublicAccessBlock", "", &e))?;
        }
        Ok(())
    }
}
