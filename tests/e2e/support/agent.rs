//! The ECS agent moto does not run, played by the tests of `roll`: a background thread that
//! registers every running instance of a group with the cluster (`RegisterContainerInstance`
//! with an instance identity document naming it, as the agent does at boot) and deregisters
//! the container instances of terminated ones. It can be paused (new instances then never
//! join, like an instance whose agent does not start), and it samples how many container
//! instances are ACTIVE at each pass, so a test can assert the lowest count seen during a roll.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use ecsops_core::provider::aws::sdk::{SdkConfig, autoscaling, ec2, ecs};

/// A running agent; stopped when dropped.
pub struct Agent {
    paused: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
    /// The lowest ACTIVE count seen since the last reset (`usize::MAX`: none yet).
    lowest: Arc<AtomicUsize>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// Between two passes.
const PASS: Duration = Duration::from_millis(100);

impl Agent {
    /// Starts playing the agent of group `group`'s instances in cluster `cluster`.
    pub fn start(config: &SdkConfig, group: &str, cluster: &str) -> Self {
        let paused = Arc::new(AtomicBool::new(false));
        let stop = Arc::new(AtomicBool::new(false));
        let lowest = Arc::new(AtomicUsize::new(usize::MAX));
        let pass = Pass {
            autoscaling: autoscaling::Client::new(config),
            ec2: ec2::Client::new(config),
            ecs: ecs::Client::new(config),
            group: group.to_owned(),
            cluster: cluster.to_owned(),
            paused: paused.clone(),
        };
        let (stopping, lowest_seen) = (stop.clone(), lowest.clone());
        // A thread with its own runtime: the test's thread blocks while `ecsops` runs.
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("agent runtime");
            rt.block_on(async {
                while !stopping.load(Ordering::SeqCst) {
                    if let Ok(active) = pass.run().await {
                        lowest_seen.fetch_min(active, Ordering::SeqCst);
                    }
                    tokio::time::sleep(PASS).await;
                }
            });
        });
        Self { paused, stop, lowest, thread: Some(thread) }
    }

    /// New instances are no longer registered (the agent does not start on them).
    pub fn pause(&self) {
        self.paused.store(true, Ordering::SeqCst);
    }

    /// Forgets the counts seen so far.
    pub fn reset_lowest(&self) {
        self.lowest.store(usize::MAX, Ordering::SeqCst);
    }

    /// The lowest count of ACTIVE container instances seen since [`Agent::reset_lowest`].
    pub fn lowest_active(&self) -> usize {
        self.lowest.load(Ordering::SeqCst)
    }

    /// Waits until `n` container instances are ACTIVE in the cluster.
    pub async fn until_active(config: &SdkConfig, cluster: &str, n: usize) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let active = container_instances(&ecs::Client::new(config), cluster)
                .await
                .map_or(0, |c| c.values().filter(|(_, s)| s == "ACTIVE").count());
            if active >= n {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{n} container instances not ACTIVE in {cluster} (now {active})"
            );
            tokio::time::sleep(PASS).await;
        }
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

struct Pass {
    autoscaling: autoscaling::Client,
    ec2: ec2::Client,
    ecs: ecs::Client,
    group: String,
    cluster: String,
    paused: Arc<AtomicBool>,
}

type Error = Box<dyn std::error::Error + Send + Sync>;

impl Pass {
    /// Registers what runs and is not registered, deregisters what is gone; returns the
    /// ACTIVE count after.
    async fn run(&self) -> Result<usize, Error> {
        let running: Vec<String> = running(&self.autoscaling, &self.ec2, &self.group)
            .await?
            .into_iter()
            .map(|(id, _)| id)
            .collect();
        let mut registered = container_instances(&self.ecs, &self.cluster).await?;
        for (id, (arn, _)) in &registered {
            if !running.contains(id) {
                self.ecs
                    .deregister_container_instance()
                    .cluster(&self.cluster)
                    .container_instance(arn)
                    .force(true)
                    .send()
                    .await?;
            }
        }
        registered.retain(|id, _| running.contains(id));
        if !self.paused.load(Ordering::SeqCst) {
            let joining: Vec<&String> =
                running.iter().filter(|id| !registered.contains_key(*id)).collect();
            for id in joining {
                let document = serde_json::json!({
                    "instanceId": id,
                    "region": super::moto::REGION,
                    "accountId": "123456789012",
                })
                .to_string();
                let out = self
                    .ecs
                    .register_container_instance()
                    .cluster(&self.cluster)
                    .instance_identity_document(document)
                    .send()
                    .await?;
                let arn = out
                    .container_instance()
                    .and_then(|c| c.container_instance_arn())
                    .unwrap_or_default()
                    .to_owned();
                registered.insert(id.clone(), (arn, "ACTIVE".to_owned()));
            }
        }
        Ok(registered.values().filter(|(_, s)| s == "ACTIVE").count())
    }
}

/// The running instances of group `group`: (id, instance type), by id.
pub async fn running(
    autoscaling: &autoscaling::Client,
    ec2: &ec2::Client,
    group: &str,
) -> Result<Vec<(String, String)>, Error> {
    let groups =
        autoscaling.describe_auto_scaling_groups().auto_scaling_group_names(group).send().await?;
    let ids: Vec<String> = groups
        .auto_scaling_groups()
        .iter()
        .flat_map(autoscaling::types::AutoScalingGroup::instances)
        .filter_map(|i| i.instance_id().map(str::to_owned))
        .collect();
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let out = ec2.describe_instances().set_instance_ids(Some(ids)).send().await?;
    let mut found: Vec<(String, String)> = out
        .reservations()
        .iter()
        .flat_map(ec2::types::Reservation::instances)
        .filter(|i| {
            i.state().and_then(|s| s.name()) == Some(&ec2::types::InstanceStateName::Running)
        })
        .filter_map(|i| Some((i.instance_id()?.to_owned(), i.instance_type()?.as_str().to_owned())))
        .collect();
    found.sort();
    Ok(found)
}

/// The cluster's container instances: EC2 id → (ARN, status).
pub async fn container_instances(
    client: &ecs::Client,
    cluster: &str,
) -> Result<BTreeMap<String, (String, String)>, Error> {
    let arns = client
        .list_container_instances()
        .cluster(cluster)
        .send()
        .await?
        .container_instance_arns
        .unwrap_or_default();
    if arns.is_empty() {
        return Ok(BTreeMap::new());
    }
    let out = client
        .describe_container_instances()
        .cluster(cluster)
        .set_container_instances(Some(arns))
        .send()
        .await?;
    Ok(out
        .container_instances()
        .iter()
        .filter_map(|c| {
            Some((
                c.ec2_instance_id()?.to_owned(),
                (c.container_instance_arn()?.to_owned(), c.status()?.to_owned()),
            ))
        })
        .collect())
}
