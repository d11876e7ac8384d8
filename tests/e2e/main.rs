//! End-to-end tests of the real `ecsops` binary. One test binary with a module per area, so it
//! links once; `support` holds the harness.

mod accounts;
mod after_rollout;
mod apply;
mod diff;
mod events;
mod gitops;
mod history;
mod partitions;
mod provider_compute;
mod provider_iam_logs_alerts;
mod provider_load_balancing;
mod provider_network;
mod published;
mod readme;
mod recommended_ami;
mod reporting;
mod revisions;
mod roll;
mod rollout;
mod rule_priorities;
mod secrets_kms;
mod set_image;
mod snapshots;
mod state_commands;
mod state_conformance;
mod status;
mod support;
mod task_roles;
mod validate;
mod workspace_tools;
