//! Auth against real etcd: the admin API, permissions, logging in, wrong
//! passwords, and tokens that expire under running calls, watches and
//! keepalives.

mod common;

use std::thread;
use std::time::{Duration, Instant};

use etcd_blocking::{
    Client, Credentials, Error, EtcdError, GetOptions, Permission, PermissionType, WatchOptions,
};

/// A fresh server with auth enabled and a root user.
fn secured(extra: &[&str]) -> (common::Cluster, Client) {
    let cluster = common::ClusterBuilder::new(1)
        .args(extra.iter().copied())
        .start();
    let admin = Client::connect(cluster.endpoints()).unwrap();
    admin.user_add("root", "rootpw").unwrap();
    admin.user_grant_role("root", "root").unwrap();
    admin.auth_enable().unwrap();
    let root = Client::builder(cluster.endpoints())
        .user("root", "rootpw")
        .connect()
        .unwrap();
    (cluster, root)
}

#[test]
fn users_roles_and_permissions() {
    let (cluster, root) = secured(&[]);
    root.role_add("reader").unwrap();
    root.role_grant_permission("reader", Permission::read("app/").prefix())
        .unwrap();
    root.role_grant_permission("reader", Permission::read_write("scratch"))
        .unwrap();
    let got = root.role_get("reader").unwrap();
    assert!(got.header().revision() > 0);
    let perms = got.permissions();
    assert_eq!(perms.len(), 2);
    let app = perms.iter().find(|p| p.key() == b"app/").unwrap();
    assert_eq!(app.permission_type(), PermissionType::Read);
    assert_eq!(app.end(), b"app0");
    let roles = root.role_list().unwrap();
    assert!(roles.header().member_id() != 0);
    assert!(roles.roles().contains(&"reader".to_string()));

    let added = root.user_add("alice", "alicepw").unwrap();
    assert!(added.header().member_id() != 0);
    root.user_grant_role("alice", "reader").unwrap();
    assert_eq!(root.user_get("alice").unwrap().roles(), ["reader"]);
    let listed = root.user_list().unwrap();
    let users = listed.users();
    assert!(users.contains(&"alice".to_string()) && users.contains(&"root".to_string()));

    root.put("app/x", "1").unwrap();
    let alice = Client::builder(cluster.endpoints())
        .user("alice", "alicepw")
        .connect()
        .unwrap();
    assert_eq!(
        alice
            .get_with("app/", GetOptions::new().prefix())
            .unwrap()
            .count(),
        1
    );
    alice.put("scratch", "mine").unwrap();
    let e = alice.put("app/x", "2").unwrap_err();
    assert!(matches!(e, Error::Etcd(EtcdError::PermissionDenied)), "{e}");
    let e = alice.get("other").unwrap_err();
    assert!(matches!(e, Error::Etcd(EtcdError::PermissionDenied)), "{e}");

    // Revoking takes effect; the client logs in again when the auth
    // revision moves (etcd 3.5 says "revision of auth store is old").
    root.role_revoke_permission("reader", &Permission::read("app/").prefix())
        .unwrap();
    let e = alice.get("app/x").unwrap_err();
    assert!(matches!(e, Error::Etcd(EtcdError::PermissionDenied)), "{e}");
    root.user_revoke_role("alice", "reader").unwrap();
    assert!(root.user_get("alice").unwrap().roles().is_empty());

    // Changing the password: the old one no longer logs in.
    root.user_change_password("alice", "newpw").unwrap();
    let e = Client::builder(cluster.endpoints())
        .user("alice", "alicepw")
        .connect()
        .unwrap_err();
    assert!(matches!(e, Error::Etcd(EtcdError::AuthFailed)), "{e}");

    // Typed admin errors.
    let e = root.user_add("alice", "x").unwrap_err();
    assert!(
        matches!(e, Error::Etcd(EtcdError::UserAlreadyExists)),
        "{e}"
    );
    let e = root.user_get("nobody").unwrap_err();
    assert!(matches!(e, Error::Etcd(EtcdError::UserNotFound)), "{e}");
    let e = root.role_get("nobody").unwrap_err();
    assert!(matches!(e, Error::Etcd(EtcdError::RoleNotFound)), "{e}");
    let e = root.user_revoke_role("alice", "reader").unwrap_err();
    assert!(matches!(e, Error::Etcd(EtcdError::RoleNotGranted)), "{e}");
    assert!(matches!(
        root.user_add("", "x"),
        Err(Error::InvalidRequest(_))
    ));
    assert!(matches!(root.role_add(""), Err(Error::InvalidRequest(_))));

    // A user without a password (for TLS common-name auth) cannot log in
    // with one.
    root.user_add_no_password("certonly").unwrap();
    let e = Client::builder(cluster.endpoints())
        .user("certonly", "")
        .connect()
        .unwrap_err();
    assert!(
        matches!(
            e,
            Error::Etcd(EtcdError::AuthFailed | EtcdError::NoPasswordUser)
        ),
        "{e}"
    );
    root.user_delete("certonly").unwrap();

    root.user_delete("alice").unwrap();
    root.role_delete("reader").unwrap();
    assert!(!root
        .user_list()
        .unwrap()
        .users()
        .contains(&"alice".to_string()));

    // Status needs 3.5; 3.4 says so clearly.
    match root.auth_status() {
        Ok(s) => {
            assert!(common::etcd_at_least(3, 5));
            assert!(s.enabled() && s.auth_revision() > 0);
        }
        Err(Error::Unsupported(_)) => assert!(!common::etcd_at_least(3, 5)),
        Err(e) => panic!("{e}"),
    }
    root.auth_disable().unwrap();
    let anonymous = Client::connect(cluster.endpoints()).unwrap();
    anonymous.put("open", "again").unwrap();
}

#[test]
fn a_wrong_password_fails_fast_and_typed() {
    let (cluster, _root) = secured(&[]);
    let started = Instant::now();
    let e = Client::builder(cluster.endpoints())
        .user("root", "wrong")
        .connect()
        .unwrap_err();
    assert!(matches!(e, Error::Etcd(EtcdError::AuthFailed)), "{e}");
    assert!(started.elapsed() < Duration::from_secs(2));
    // No password or token in what a user might log.
    let builder = Client::builder(cluster.endpoints()).user("root", "s3cr3t-pw");
    assert!(!format!("{builder:?}").contains("s3cr3t-pw"));
    assert!(!format!("{:?}", Credentials::new("u", "s3cr3t-pw")).contains("s3cr3t-pw"));
    assert!(!e.to_string().contains("wrong"));
    // Without credentials, calls are refused with etcd's own error.
    let anonymous = Client::connect(cluster.endpoints()).unwrap();
    let e = anonymous.get("k").unwrap_err();
    assert!(matches!(e, Error::Etcd(_)), "{e}");
}

#[test]
fn expired_tokens_are_renewed_for_calls_watches_and_keepalives() {
    // Simple tokens that expire after 2 s idle.
    let (cluster, _root) = secured(&["--auth-token-ttl=2"]);
    let c = Client::builder(cluster.endpoints())
        .user("root", "rootpw")
        .connect()
        .unwrap();
    let lease = c.grant(20).unwrap().id();
    let ka = c.keep_alive(lease).unwrap();
    let w = c.watch_with("w/", WatchOptions::new().prefix()).unwrap();
    c.put("w/1", "a").unwrap();
    assert_eq!(
        w.recv_timeout(Duration::from_secs(5))
            .unwrap()
            .unwrap()
            .events()
            .len(),
        1
    );

    // Let the token expire: the next call logs in again by itself.
    thread::sleep(Duration::from_secs(4));
    c.put("w/2", "b").unwrap();
    assert_eq!(c.get("w/2").unwrap().count(), 1);
    assert_eq!(
        w.recv_timeout(Duration::from_secs(5))
            .unwrap()
            .unwrap()
            .events()
            .len(),
        1
    );

    // A restart forgets every token; the pump's streams reopen with a new
    // one and the watch resumes without loss.
    cluster.restart(0);
    let writer = Client::builder(cluster.endpoints())
        .user("root", "rootpw")
        .connect()
        .unwrap();
    writer.put("w/3", "c").unwrap();
    let r = w
        .recv_timeout(Duration::from_secs(15))
        .unwrap()
        .expect("event after restart");
    assert_eq!(r.events()[0].kv().key(), b"w/3");
    // The keepalive kept going through all of it.
    thread::sleep(Duration::from_secs(3));
    assert!(ka.is_alive(), "{:?}", ka.state());
    assert!(c.time_to_live(lease).unwrap().ttl() > 0);
}

#[test]
fn sixteen_callers_meeting_an_expired_token_cause_one_login() {
    let (cluster, _root) = secured(&["--auth-token-ttl=2"]);
    let ep = cluster.endpoint(0);
    let c = Client::builder(cluster.endpoints())
        .user("root", "rootpw")
        .connect()
        .unwrap();
    c.put("sf/k", "v").unwrap();
    // Idle past the token's TTL: every caller below meets a dead token.
    thread::sleep(Duration::from_secs(4));
    let before = common::streams_handled(&ep, "Authenticate");
    let gate = std::sync::Barrier::new(16);
    thread::scope(|s| {
        for _ in 0..16 {
            s.spawn(|| {
                gate.wait();
                assert_eq!(c.get("sf/k").unwrap().count(), 1);
            });
        }
    });
    let logins = common::streams_handled(&ep, "Authenticate") - before;
    assert_eq!(
        logins, 1,
        "16 callers with one dead token logged in {logins} times"
    );
}

#[test]
fn server_streams_survive_an_expired_token() {
    let (cluster, _root) = secured(&["--auth-token-ttl=2"]);
    let c = Client::builder(cluster.endpoints())
        .user("root", "rootpw")
        .request_timeout(Duration::from_secs(10))
        .connect()
        .unwrap();
    let lease = c.grant(30).unwrap().id();
    let leader = c.campaign("elect/e", lease, "v1").unwrap().into_leader();

    // A snapshot started on a dead token.
    thread::sleep(Duration::from_secs(4));
    let dir = tempfile::tempdir().unwrap();
    let info = c.snapshot_save(dir.path().join("snap.db")).unwrap();
    assert!(info.size() > 0);

    // An observation started on a dead token: etcd ends it quietly, the
    // client logs in again and delivers the leader anyway, then the next
    // value, each once.
    thread::sleep(Duration::from_secs(4));
    let seen = std::sync::Mutex::new(Vec::new());
    thread::scope(|s| {
        s.spawn(|| {
            c.observe("elect/e", |r| {
                let v = r.kv().unwrap().value_str().unwrap().to_string();
                let mut seen = seen.lock().unwrap();
                seen.push(v);
                seen.len() < 2
            })
            .unwrap();
        });
        let t = Instant::now();
        while seen.lock().unwrap().is_empty() {
            assert!(
                t.elapsed() < Duration::from_secs(8),
                "observe saw no leader"
            );
            thread::sleep(Duration::from_millis(50));
        }
        c.proclaim(&leader, "v2").unwrap();
    });
    assert_eq!(*seen.lock().unwrap(), ["v1", "v2"]);

    // Lock and campaign waits that outlast the token.
    let waiter = Client::builder(cluster.endpoints())
        .user("root", "rootpw")
        .request_timeout(Duration::from_secs(15))
        .connect()
        .unwrap();
    let held = c.lock("locks/l", lease).unwrap();
    let wlease = waiter.grant(30).unwrap().id();
    thread::scope(|s| {
        let lock = s.spawn(|| waiter.lock("locks/l", wlease));
        let campaign = s.spawn(|| waiter.campaign("elect/e", wlease, "w"));
        thread::sleep(Duration::from_secs(4));
        c.unlock(held.key()).unwrap();
        c.resign(&leader).unwrap();
        lock.join()
            .unwrap()
            .expect("lock wait across a token expiry");
        let l = campaign
            .join()
            .unwrap()
            .expect("campaign wait across a token expiry");
        assert_eq!(l.leader().lease(), wlease);
    });
}

#[test]
fn a_static_token_is_used_as_given_and_never_shown() {
    let (cluster, _root) = secured(&[]);
    let (status, body) = common::http_post_json(
        &cluster.endpoint(0),
        "/v3/auth/authenticate",
        r#"{"name":"root","password":"rootpw"}"#,
    )
    .unwrap();
    assert_eq!(status, 200, "{body}");
    let token = common::json_field(&body, "token")
        .expect("a token")
        .to_string();
    let builder = Client::builder(cluster.endpoints()).auth_token(&token);
    assert!(
        !format!("{builder:?}").contains(&token),
        "the token is printed"
    );
    let c = builder.connect().unwrap();
    c.put("st/k", "v").unwrap();
    assert_eq!(c.get("st/k").unwrap().count(), 1);
    // A token etcd does not know is refused, and not renewed behind the
    // caller's back.
    let bad = Client::builder(cluster.endpoints())
        .auth_token("not-a-token")
        .connect()
        .unwrap();
    let e = bad.get("st/k").unwrap_err();
    assert!(matches!(e, Error::Etcd(EtcdError::InvalidAuthToken)), "{e}");
    let e = Client::builder(cluster.endpoints())
        .auth_token(&token)
        .user("root", "rootpw")
        .connect()
        .unwrap_err();
    assert!(matches!(e, Error::InvalidConfig(_)), "{e}");
}

#[test]
fn admin_calls_refused_for_want_of_the_root_role_are_typed() {
    // Which maintenance calls need the root role when auth is on depends
    // on the version (README "Servers"); a refusal is always
    // EtcdError::PermissionDenied, whether etcd sends it as such (3.6,
    // and the calls 3.5.28 guarded) or passes the auth store's own
    // "auth: permission denied" on as Unknown (3.4 and 3.5's hashes,
    // defragment and snapshot).
    let (cluster, root) = secured(&[]);
    root.user_add("operator", "oppw").unwrap();
    let op = Client::builder(cluster.endpoints())
        .user("operator", "oppw")
        .connect()
        .unwrap();
    let denied = |what: &str, r: Result<(), Error>| match r {
        Err(Error::Etcd(EtcdError::PermissionDenied)) => {}
        other => panic!("{what}: expected PermissionDenied, got {other:?}"),
    };
    // Root only on every version.
    denied("hash", op.hash().map(drop));
    denied("hash_kv", op.hash_kv(0).map(drop));
    denied("defragment", op.defragment().map(drop));
    denied(
        "snapshot",
        op.snapshot_to(&mut std::io::sink(), |_, _| {}).map(drop),
    );
    // Status: any user up to 3.5.27 (3.4 too); root from 3.5.28 to
    // 3.5.31 and in 3.6.0 to 3.6.11; any user again from 3.5.32/3.6.12.
    let v = common::etcd_version();
    let status_needs_root =
        ((3, 5, 28)..(3, 5, 32)).contains(&v) || ((3, 6, 0)..(3, 6, 12)).contains(&v);
    match op.status() {
        Ok(_) => assert!(!status_needs_root, "status allowed on {v:?}"),
        Err(e) => {
            assert!(status_needs_root, "status refused on {v:?}: {e}");
            denied("status", Err(e));
        }
    }
    // AuthStatus: none on 3.4; root only in 3.5 and 3.6; anyone from 3.7.
    match op.auth_status() {
        Err(Error::Unsupported(_)) => assert!(!common::etcd_at_least(3, 5)),
        Ok(s) => {
            assert!(common::etcd_at_least(3, 7), "auth_status allowed on {v:?}");
            assert!(s.enabled());
        }
        Err(e) => {
            assert!(common::etcd_at_least(3, 5) && !common::etcd_at_least(3, 7));
            denied("auth_status", Err(e));
        }
    }
    // The root role may do all of it.
    root.hash_kv(0).unwrap();
    root.status().unwrap();
    root.snapshot_to(&mut std::io::sink(), |_, _| {}).unwrap();
}

#[test]
fn watch_many_refuses_only_the_watches_not_permitted() {
    let (cluster, root) = secured(&[]);
    root.role_add("jobs-reader").unwrap();
    root.role_grant_permission("jobs-reader", Permission::read("jobs/").prefix())
        .unwrap();
    root.user_add("worker", "wpw").unwrap();
    root.user_grant_role("worker", "jobs-reader").unwrap();
    let worker = Client::builder(cluster.endpoints())
        .user("worker", "wpw")
        .connect()
        .unwrap();
    let mut got = worker
        .watch_many([
            ("jobs/1", WatchOptions::new()),
            ("secrets/1", WatchOptions::new()),
            ("jobs/2", WatchOptions::new()),
        ])
        .unwrap();
    assert_eq!(got.len(), 3);
    let second = got.pop().unwrap().unwrap();
    match got.pop().unwrap() {
        Err(e) => assert!(e.to_string().contains("permission denied"), "{e}"),
        Ok(w) => panic!("the watch on secrets/ was created: {w:?}"),
    }
    let first = got.pop().unwrap().unwrap();
    root.put("jobs/1", "a").unwrap();
    root.put("jobs/2", "b").unwrap();
    assert_eq!(
        common::next_events(&first).events()[0]
            .kv()
            .value_str()
            .unwrap(),
        "a"
    );
    assert_eq!(
        common::next_events(&second).events()[0]
            .kv()
            .value_str()
            .unwrap(),
        "b"
    );
}

#[test]
fn the_lock_and_election_services_refuse_typed() {
    // etcd's Lock and Election services relay the failure of the calls
    // they make for the user inside an `Unknown` status; the client still
    // reports etcd's own error, typed.
    let (cluster, root) = secured(&[]);
    root.user_add("nolock", "nolockpw").unwrap();
    let user = Client::builder(cluster.endpoints())
        .user("nolock", "nolockpw")
        .connect()
        .unwrap();
    let lease = user.grant(30).unwrap().id();
    let e = user.lock("locks/guarded", lease).unwrap_err();
    assert!(
        matches!(e, Error::Etcd(EtcdError::PermissionDenied)),
        "{e:?}"
    );
    assert!(!e.is_retryable() && !e.is_outcome_unknown(), "{e}");
    let e = user.campaign("elections/guarded", lease, "me").unwrap_err();
    assert!(
        matches!(e, Error::Etcd(EtcdError::PermissionDenied)),
        "{e:?}"
    );
    // With the permission, the same user takes the lock.
    root.role_add("locker").unwrap();
    root.role_grant_permission("locker", Permission::read_write("locks/").prefix())
        .unwrap();
    root.user_grant_role("nolock", "locker").unwrap();
    let held = user.lock("locks/guarded", lease).unwrap();
    user.unlock(held.key()).unwrap();
}
