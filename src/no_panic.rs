//! "No panic from the public API", as a property: arbitrary strings, byte
//! strings, numbers and durations given to every builder and option setter
//! and to endpoint parsing end in `Ok` or a typed error, never a panic.
//!
//! Connecting is checked without a server: [`ClientBuilder::dry_run`] runs
//! everything `connect` does before it dials (validation, one gRPC channel
//! per endpoint with the configured settings, the token's metadata), and
//! full connects go to a loopback port that refuses at once, with a short
//! connect timeout.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Duration;

use proptest::prelude::*;

use crate::kv::{delete_request, put_request, range_request};
use crate::namespace::Namespace;
use crate::{ClientBuilder, Result};
use crate::{
    Compare, CompareOp, Credentials, DeleteOptions, Endpoint, Error, GetOptions, Op, PutOptions,
    SortOrder, SortTarget, TlsOptions, Txn, WatchOptions,
};

/// Durations a user may write: the edges (zero, `MAX`, just past gRPC's
/// 32-bit milliseconds) and anything in between, with plausible ones most
/// often, so that whole configurations are often valid and reach the code
/// after the checks.
fn duration() -> impl Strategy<Value = Duration> {
    prop_oneof![
        1 => Just(Duration::ZERO),
        2 => Just(Duration::MAX),
        1 => Just(Duration::from_millis(i32::MAX as u64 + 1)),
        1 => any::<u64>().prop_map(Duration::from_nanos),
        1 => (any::<u64>(), 0u32..1_000_000_000).prop_map(|(s, n)| Duration::new(s, n)),
        6 => (5_000u64..100_000).prop_map(Duration::from_millis),
    ]
}

/// Text a user may pass: anything, printable ASCII, and the classics.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        2 => any::<String>(),
        3 => "[ -~]{1,24}",
        1 => Just("tok\n".to_string()),
        1 => Just(String::new()),
        1 => Just("a\0b".to_string()),
        1 => Just("é".to_string()),
    ]
}

/// Endpoint-like text: anything, shapes close to a valid endpoint, and a
/// valid one (that refuses connections) most often.
fn endpoint_text() -> impl Strategy<Value = String> {
    prop_oneof![
        1 => any::<String>(),
        2 => "(https?://|unix://|ftp://)?(\\[[0-9a-f:]{0,8}\\]|[a-z0-9.\\x00\\n ]{0,12})(:[0-9]{0,6})?/?",
        6 => Just("127.0.0.1:1".to_string()),
        1 => Just("https://127.0.0.1:1".to_string()),
    ]
}

/// `Some` of `inner` now and then; `None` (the setting left alone) most
/// often.
fn sometimes<T: std::fmt::Debug + Clone>(
    inner: impl Strategy<Value = T>,
) -> impl Strategy<Value = Option<T>> {
    prop_oneof![6 => Just(None), 1 => inner.prop_map(Some)]
}

fn bytes() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..24),
        Just(Vec::new()),
        Just(vec![0xff]),
        Just(vec![0]),
    ]
}

/// TLS settings: a CA, maybe a client certificate and key, maybe a server
/// name.
type Tls = (Vec<u8>, Option<(Vec<u8>, Vec<u8>)>, Option<String>);

/// Every setting of the builder, arbitrary; `None`: left at its default.
#[derive(Debug, Clone)]
struct Settings {
    endpoints: Vec<String>,
    durations: [Option<Duration>; 6],
    max_send: Option<usize>,
    max_receive: Option<Option<usize>>,
    cq_threads: Option<usize>,
    attempt_fraction: Option<f64>,
    token: Option<String>,
    user: Option<(String, String)>,
    tls: Option<Tls>,
    watch_buffer: Option<usize>,
    min_version: Option<(u32, u32)>,
    flags: (bool, bool),
}

fn settings(endpoints: BoxedStrategy<Vec<String>>) -> impl Strategy<Value = Settings> {
    let cert = b"-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n".to_vec();
    let pem = prop_oneof![
        1 => bytes(),
        3 => Just(cert),
        1 => Just(b"-----BEGIN CERTIFICATE-----\n\0\n-----END CERTIFICATE-----\n".to_vec()),
    ];
    let key = prop_oneof![
        1 => bytes(),
        3 => Just(b"-----BEGIN PRIVATE KEY-----\nxx\n-----END PRIVATE KEY-----\n".to_vec()),
    ];
    (
        endpoints,
        proptest::array::uniform6(sometimes(duration())),
        sometimes(prop_oneof![any::<usize>(), Just(0usize), 1usize..4096]),
        sometimes(proptest::option::of(any::<usize>())),
        // Enough threads to cross the limit, not so many that a valid
        // count costs seconds to start.
        sometimes(prop_oneof![
            0usize..4,
            Just(crate::MAX_CQ_THREADS + 1),
            Just(usize::MAX)
        ]),
        sometimes(prop_oneof![
            any::<f64>(),
            Just(f64::NAN),
            Just(0.5),
            Just(1.0),
            Just(-0.0)
        ]),
        sometimes(text()),
        sometimes((text(), text())),
        sometimes((
            pem.clone(),
            proptest::option::of((pem, key)),
            proptest::option::of(text()),
        )),
        sometimes(prop_oneof![any::<usize>(), 0usize..8]),
        sometimes((any::<u32>(), any::<u32>())),
        (any::<bool>(), any::<bool>()),
    )
        .prop_map(
            |(
                endpoints,
                durations,
                max_send,
                max_receive,
                cq_threads,
                attempt_fraction,
                token,
                user,
                tls,
                watch_buffer,
                min_version,
                flags,
            )| Settings {
                endpoints,
                durations,
                max_send,
                max_receive,
                cq_threads,
                attempt_fraction,
                token,
                user,
                tls,
                watch_buffer,
                min_version,
                flags,
            },
        )
}

impl Settings {
    /// The builder, through the public setters; a TLS setter's own error
    /// (it checks the PEM as it is given) is returned instead.
    fn builder(&self) -> Result<ClientBuilder> {
        type Setter = fn(ClientBuilder, Duration) -> ClientBuilder;
        let setters: [Setter; 6] = [
            ClientBuilder::connect_timeout,
            ClientBuilder::request_timeout,
            ClientBuilder::keepalive_time,
            ClientBuilder::keepalive_timeout,
            ClientBuilder::server_keepalive_min_time,
            ClientBuilder::auto_sync_interval,
        ];
        let mut b = ClientBuilder::new(&self.endpoints)
            .require_leader(self.flags.0)
            .monotonic_reads(self.flags.1);
        for (set, d) in setters.iter().zip(self.durations) {
            if let Some(d) = d {
                b = set(b, d);
            }
        }
        if let Some(n) = self.max_send {
            b = b.max_send_message_size(n);
        }
        if let Some(n) = self.max_receive {
            b = b.max_receive_message_size(n);
        }
        if let Some(n) = self.cq_threads {
            b = b.completion_queue_threads(n);
        }
        if let Some(f) = self.attempt_fraction {
            b = b.attempt_fraction(f);
        }
        if let Some(n) = self.watch_buffer {
            b = b.watch_buffer(n);
        }
        if let Some(t) = &self.token {
            b = b.auth_token(t.clone());
        }
        if let Some((u, p)) = &self.user {
            b = b.credentials(Credentials::new(u.clone(), p.clone()));
        }
        if let Some((ca, identity, name)) = &self.tls {
            let mut tls = TlsOptions::new().ca_pem(ca.clone())?;
            if let Some((cert, key)) = identity {
                tls = tls.identity_pem(cert.clone(), key.clone())?;
            }
            if let Some(name) = name {
                tls = tls.server_name(name.clone());
            }
            b = b.tls(tls);
        }
        if let Some((major, minor)) = self.min_version {
            b = b.min_server_version(major, minor);
        }
        Ok(b)
    }
}

/// Runs `f`, failing the property if it panics.
fn no_panic<T>(what: &str, f: impl FnOnce() -> T) -> std::result::Result<T, TestCaseError> {
    catch_unwind(AssertUnwindSafe(f)).map_err(|p| {
        let msg = p
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default();
        TestCaseError::fail(format!("{what} panicked: {msg}"))
    })
}

fn is_typed_config_error(e: &Error) -> bool {
    matches!(e, Error::InvalidConfig(_))
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 256,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn endpoint_parsing_never_panics(s in endpoint_text()) {
        let parsed = no_panic("Endpoint::parse", || Endpoint::parse(&s))?;
        match parsed {
            Ok(e) => {
                // What gRPC is handed must be a valid C string.
                prop_assert!(!e.authority().contains('\0'), "{e:?}");
                prop_assert!(Endpoint::parse(&e.to_string()).is_ok(), "{e}");
            }
            Err(e) => prop_assert!(is_typed_config_error(&e), "{e:?}"),
        }
    }

    #[test]
    fn options_become_requests_or_typed_errors(
        key in bytes(),
        end in bytes(),
        value in bytes(),
        prefix in bytes(),
        nums in proptest::array::uniform6(any::<i64>()),
        range in 0u8..4,
        buffer in any::<usize>(),
    ) {
        let ranged = |o: GetOptions| match range {
            0 => o,
            1 => o.prefix(),
            2 => o.from_key(),
            _ => o.range_end(end.clone()),
        };
        let get = ranged(GetOptions::new())
            .revision(nums[0])
            .limit(nums[1])
            .min_mod_revision(nums[2])
            .max_mod_revision(nums[3])
            .min_create_revision(nums[4])
            .max_create_revision(nums[5])
            .sort(SortTarget::Value, SortOrder::Descend)
            .keys_only()
            .count_only()
            .serializable();
        let put = PutOptions::new().lease(nums[0]).prev_kv().ignore_value().ignore_lease();
        let delete = match range {
            0 => DeleteOptions::new(),
            1 => DeleteOptions::new().prefix(),
            2 => DeleteOptions::new().from_key(),
            _ => DeleteOptions::new().range_end(end.clone()),
        }
        .prev_kv();
        let watch = match range {
            0 => WatchOptions::new(),
            1 => WatchOptions::new().prefix(),
            2 => WatchOptions::new().from_key(),
            _ => WatchOptions::new().range_end(end.clone()),
        }
        .start_revision(nums[1])
        .buffer(buffer)
        .prev_kv()
        .progress_notify()
        .no_put()
        .no_delete()
        .fragment()
        .created_notify();
        let ns = Namespace::new(prefix.clone());
        let typed = |e: &Error| {
            matches!(e, Error::EmptyKey | Error::InvalidRequest(_) | Error::Utf8(_))
        };
        no_panic("options", || -> std::result::Result<(), TestCaseError> {
            match range_request(key.clone(), &get) {
                Ok(mut r) => ns.range_request(&mut r),
                Err(e) => prop_assert!(typed(&e), "{e:?}"),
            }
            match put_request(key.clone(), value.clone(), &put) {
                Ok(mut r) => ns.put_request(&mut r),
                Err(e) => prop_assert!(typed(&e), "{e:?}"),
            }
            match delete_request(key.clone(), &delete) {
                Ok(mut r) => ns.delete_request(&mut r),
                Err(e) => prop_assert!(typed(&e), "{e:?}"),
            }
            if let Err(e) = watch.range.resolve(key.clone()) {
                prop_assert!(typed(&e), "{e:?}");
            }
            let txn = Txn::new()
                .when([
                    Compare::value(key.clone(), CompareOp::Greater, value.clone()),
                    Compare::version(key.clone(), CompareOp::NotEqual, nums[2]).range_end(end.clone()),
                    Compare::mod_revision(prefix.clone(), CompareOp::Less, nums[3]).prefix(),
                    Compare::create_revision(key.clone(), CompareOp::Equal, nums[4]),
                    Compare::lease(key.clone(), CompareOp::Equal, nums[5]),
                ])
                .and_then([
                    Op::get_with(key.clone(), get.clone()),
                    Op::put_with(key.clone(), value.clone(), put.clone()),
                    Op::delete_with(key.clone(), delete.clone()),
                    Op::txn(Txn::new().and_then([Op::get(prefix.clone())])),
                ])
                .or_else([Op::put(value.clone(), key.clone())]);
            match txn.into_proto() {
                Ok(mut r) => ns.txn_request(&mut r),
                Err(e) => prop_assert!(typed(&e), "{e:?}"),
            }
            Ok(())
        })??;
    }

    #[test]
    fn handles_take_any_timeout_and_namespace(
        d in duration(),
        prefix in bytes(),
        ns_key in bytes(),
    ) {
        no_panic("deadlines and namespaces", || {
            let deadline = crate::wait::Deadline::after(d);
            let _ = deadline.remaining();
            let _ = crate::wait::instant_after(d);
            let ns = Namespace::new(prefix.clone());
            let mut r = crate::proto::rpc::RangeRequest { key: ns_key.clone(), ..Default::default() };
            ns.range_request(&mut r);
        })?;
    }
}

/// Runs `property` on `cases` values of `strategy`; fails with the
/// smallest failing value if it fails, and if fewer than `min_past` cases
/// got past the configuration checks (`property` returns whether its case
/// did), since then the property would say little about the code after
/// them. (`min_past` is well below the expected count: about a fifth of
/// the cases get past, and the draw is random.)
fn run_counting<S: Strategy>(
    cases: u32,
    min_past: u32,
    strategy: S,
    property: impl Fn(S::Value) -> std::result::Result<bool, TestCaseError>,
) {
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
        cases,
        // No regression file: the failing value is printed.
        failure_persistence: None,
        ..ProptestConfig::default()
    });
    let past = std::sync::atomic::AtomicU32::new(0);
    let outcome = runner.run(&strategy, |v| {
        if property(v)? {
            past.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        Ok(())
    });
    if let Err(e) = outcome {
        panic!("{e}");
    }
    let past = past.into_inner();
    assert!(
        past >= min_past,
        "only {past} of {cases} cases got past the checks"
    );
}

fn some_endpoints() -> BoxedStrategy<Vec<String>> {
    prop_oneof![
        1 => Just(Vec::new()),
        9 => proptest::collection::vec(endpoint_text(), 1..3),
    ]
    .boxed()
}

#[test]
fn every_builder_setting_is_checked_before_dialing() {
    run_counting(256, 16, settings(some_endpoints()), |s| {
        let outcome = no_panic("building and checking", || {
            s.builder().and_then(|b| b.dry_run())
        })?;
        match outcome {
            Ok(()) => Ok(true),
            Err(e) => {
                prop_assert!(is_typed_config_error(&e), "{e:?}");
                Ok(false)
            }
        }
    });
}

/// Each case starts gRPC's threads and waits (a few milliseconds) for a
/// refused connection: a few dozen cases take a few seconds.
#[test]
fn connecting_with_any_settings_is_ok_or_a_typed_error() {
    let strategy = (settings(some_endpoints()), 1u64..30);
    run_counting(48, 3, strategy, |(s, connect_ms)| {
        let outcome = no_panic("connect", || {
            s.builder().and_then(|b| {
                b.connect_timeout(Duration::from_millis(connect_ms))
                    .connect()
            })
        })?;
        match outcome {
            // Nothing listens on port 1.
            Ok(_) => Err(TestCaseError::fail("connected to nothing")),
            Err(Error::Unavailable(_)) => Ok(true),
            Err(e) => {
                prop_assert!(is_typed_config_error(&e), "{e:?}");
                Ok(false)
            }
        }
    });
}

#[cfg(feature = "v2")]
proptest! {
    #![proptest_config(ProptestConfig {
        cases: 128,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn the_v2_builder_takes_any_settings(
        endpoints in proptest::collection::vec(endpoint_text(), 0..3),
        ds in proptest::array::uniform4(duration()),
        per_request in proptest::option::of(duration()),
        user in text(),
        password in text(),
        ttl in duration(),
    ) {
        use crate::v2;
        let outcome = no_panic("v2 builder", || {
            let _ = v2::SetOptions::new().ttl(ttl).prev_value(user.clone());
            v2::Client::builder(&endpoints)
                .request_timeout(ds[0])
                .per_request_timeout(per_request)
                .auto_sync_interval(ds[1].max(Duration::from_secs(3600)))
                .watch_poll_interval(ds[2])
                .basic_auth(user.clone(), password.clone())
                .connect()
                .map(|c| {
                    let _ = c.with_timeout(ds[3]).keys_with_prefix(&user);
                    // A watcher's long poll is cut to the poll interval,
                    // whatever its length (Duration::MAX overflowed).
                    let mut w = c.keys().watcher(&user, v2::WatcherOptions::new());
                    let _ = w.next_event_timeout(Duration::from_millis(1));
                    c.close();
                })
        })?;
        if let Err(e) = outcome {
            prop_assert!(is_typed_config_error(&e), "{e:?}");
        }
    }
}

/// DNS SRV discovery with any domain and service name: the lookup goes to
/// a loopback port nothing listens on, so it fails at once, but the
/// names and the query are built from the input first.
#[cfg(feature = "discovery-srv")]
#[test]
fn discovery_takes_any_domain() {
    let strategy = (text(), proptest::option::of(text()), any::<bool>());
    run_counting(16, 2, strategy, |(domain, service, insecure)| {
        let outcome = no_panic("discovery", || {
            let mut b = ClientBuilder::new(Vec::<String>::new())
                .discovery_srv(domain.clone())
                .dns_resolver("127.0.0.1:1".parse().expect("a socket address"))
                .insecure_discovery(insecure)
                .connect_timeout(Duration::from_millis(30));
            if let Some(s) = &service {
                b = b.discovery_srv_name(s.clone());
            }
            b.connect()
        })?;
        match outcome {
            Ok(_) => Err(TestCaseError::fail("discovered and connected to nothing")),
            // Asked the DNS server: the input made a query.
            Err(Error::Unavailable(_)) => Ok(true),
            Err(e) => {
                prop_assert!(is_typed_config_error(&e), "{e:?}");
                Ok(false)
            }
        }
    });
}
