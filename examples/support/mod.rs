//! Where the examples find etcd: `ETCD_ENDPOINTS` (comma-separated) when it
//! is set, otherwise a throwaway single-member etcd on a free loopback port
//! (the `etcd` on PATH, or `ETCD_BIN`), removed when the example ends.
//! The throwaway server comes from the test harness (the `etcd-harness`
//! package), so examples and tests start etcd the same way.

/// Keeps the throwaway server (if any) alive while the example runs.
pub struct Etcd {
    _server: Option<etcd_harness::Cluster>,
    /// The endpoints to connect to.
    pub endpoints: Vec<String>,
}

/// The endpoints to use, saying which on stdout.
#[allow(dead_code)] // every example but v2 uses it
pub fn etcd() -> Etcd {
    from_env_or(etcd_harness::ClusterBuilder::new(1), "")
}

/// Like [`etcd`], but a throwaway cluster has `members` members, for the
/// examples that show what an operator does member by member.
#[allow(dead_code)] // only the operator example uses it
pub fn etcd_members(members: usize) -> Etcd {
    // Slower elections than etcd's default (100 ms beats, 1 s timeout):
    // on a busy machine three members sharing two cores can miss beats,
    // and a leader change halfway would muddle the story.
    let patient = etcd_harness::ClusterBuilder::new(members)
        .args(["--heartbeat-interval=200", "--election-timeout=2000"]);
    from_env_or(patient, "")
}

/// Like [`etcd`], but a throwaway server serves the v2 API too
/// (`--enable-v2`); `ETCD_ENDPOINTS` must name servers that do.
#[allow(dead_code)] // only the v2 example uses it
pub fn etcd_v2() -> Etcd {
    from_env_or(
        etcd_harness::ClusterBuilder::new(1).arg("--enable-v2"),
        " with --enable-v2",
    )
}

/// `ETCD_ENDPOINTS`, or a throwaway server from `throwaway`.
fn from_env_or(throwaway: etcd_harness::ClusterBuilder, what: &str) -> Etcd {
    let _ = env_logger::try_init();
    match std::env::var("ETCD_ENDPOINTS") {
        Ok(list) if !list.trim().is_empty() => {
            println!("using ETCD_ENDPOINTS={list}");
            Etcd {
                _server: None,
                endpoints: list.split(',').map(|s| s.trim().to_string()).collect(),
            }
        }
        _ => {
            let cluster = throwaway.start();
            let endpoints = cluster.client_urls();
            let members = match endpoints.len() {
                1 => String::new(),
                n => format!(" ({n} members)"),
            };
            println!(
                "ETCD_ENDPOINTS is unset: started a throwaway etcd {:?}{members}{what} at {}",
                etcd_harness::etcd_version(),
                endpoints.join(",")
            );
            Etcd {
                _server: Some(cluster),
                endpoints,
            }
        }
    }
}
