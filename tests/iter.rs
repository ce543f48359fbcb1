//! Paginated reads against real etcd: a large prefix at one revision while
//! a writer changes it, memory held to a page, compaction mid-way, limits,
//! keys-only, namespaces and the options that do not combine with pages.

mod common;

use std::thread;

use etcd_blocking::{Client, Error, GetOptions, Op, SortOrder, SortTarget, Txn};

/// Writes `n` keys `{prefix}{i:06}` with a `size`-byte value, 100 per
/// transaction.
fn fill(c: &Client, prefix: &str, n: usize, size: usize) {
    let value = vec![b'x'; size];
    for chunk in (0..n).collect::<Vec<_>>().chunks(100) {
        let ops: Vec<Op> = chunk
            .iter()
            .map(|i| Op::put(format!("{prefix}{i:06}"), value.clone()))
            .collect();
        c.txn(Txn::new().and_then(ops)).unwrap();
    }
}

/// The process's peak resident memory since the last reset, in KiB, and
/// a reset of it (Linux `clear_refs` 5).
fn peak_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM")
}

fn reset_peak_rss() {
    std::fs::write("/proc/self/clear_refs", "5").expect("reset VmHWM");
}

/// A digest of key-values in order, so two reads can be compared without
/// holding either.
#[derive(Default, PartialEq, Eq, Debug)]
struct Digest {
    count: usize,
    hash: u64,
}

impl Digest {
    fn add(&mut self, kv: &etcd_blocking::KeyValue) {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        (self.hash, kv.key(), kv.value(), kv.mod_revision()).hash(&mut h);
        self.hash = h.finish();
        self.count += 1;
    }
}

#[test]
fn a_hundred_thousand_keys_in_pages_at_one_revision_with_bounded_memory() {
    let cluster = common::Cluster::single();
    let c = Client::connect(cluster.endpoints()).unwrap();
    let n = 100_000;
    fill(&c, "big/", n, 100);

    // A writer changes the prefix all along: new keys, new values (at
    // most 5,000 rounds, so it stops by itself even if the reader fails).
    let stop = std::sync::atomic::AtomicBool::new(false);
    let (paged, revision, iter_peak) = thread::scope(|s| {
        let writer = s.spawn(|| {
            let mut i = 0;
            while i < 5_000 && !stop.load(std::sync::atomic::Ordering::Relaxed) {
                c.put(format!("big/{:06}", i * 7 % n), "changed").unwrap();
                c.put(format!("big/{i:06}-new"), "new").unwrap();
                i += 1;
            }
            i
        });
        // Stop the writer however the reading below ends.
        struct StopOnDrop<'a>(&'a std::sync::atomic::AtomicBool);
        impl Drop for StopOnDrop<'_> {
            fn drop(&mut self) {
                self.0.store(true, std::sync::atomic::Ordering::Relaxed);
            }
        }
        let _stop = StopOnDrop(&stop);
        reset_peak_rss();
        let base = peak_rss_kib();
        let mut it = c
            .get_iter("big/", GetOptions::new().prefix(), 1000)
            .unwrap();
        let mut paged = Digest::default();
        let mut last: Option<Vec<u8>> = None;
        for kv in &mut it {
            let kv = kv.unwrap();
            assert!(
                last.as_deref().is_none_or(|l| l < kv.key()),
                "out of order or repeated"
            );
            last = Some(kv.key().to_vec());
            paged.add(&kv);
        }
        let iter_peak = peak_rss_kib().saturating_sub(base);
        let revision = it.revision().unwrap();
        // Wait for writes after the pinned revision, so the comparison
        // below shows they were left out.
        while c.get("big/").unwrap().header().revision() <= revision + 10 {
            thread::yield_now();
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let writes = writer.join().unwrap();
        assert!(writes > 0, "the writer never ran");
        (paged, revision, iter_peak)
    });
    assert!(paged.count >= n, "{} keys", paged.count);

    // The same prefix at the same revision in one response: the same
    // key-values, in the same order, with nothing written since.
    reset_peak_rss();
    let base = peak_rss_kib();
    let all = c
        .get_with("big/", GetOptions::new().prefix().revision(revision))
        .unwrap();
    let plain_peak = peak_rss_kib().saturating_sub(base);
    let mut whole = Digest::default();
    for kv in all.kvs() {
        assert!(kv.mod_revision() <= revision);
        whole.add(kv);
    }
    drop(all);
    assert_eq!(paged, whole, "the pages differ from the snapshot");
    let now = c
        .get_with("big/", GetOptions::new().prefix().count_only())
        .unwrap();
    assert!(now.header().revision() > revision + 10);
    eprintln!(
        "peak RSS growth over {} keys: paged (1000) {iter_peak} KiB, one get {plain_peak} KiB",
        paged.count
    );
    assert!(
        iter_peak * 4 < plain_peak,
        "paging held {iter_peak} KiB against {plain_peak} KiB for one get"
    );
}

#[test]
fn compaction_of_the_pinned_revision_ends_the_iteration_typed() {
    let cluster = common::Cluster::single();
    let c = Client::connect(cluster.endpoints()).unwrap();
    fill(&c, "cmp/", 3000, 10);
    let mut it = c.get_iter("cmp/", GetOptions::new().prefix(), 500).unwrap();
    for _ in 0..600 {
        it.next().unwrap().unwrap();
    }
    let rev = c.put("cmp/later", "v").unwrap().header().revision();
    c.compact(rev).unwrap();
    let err = it
        .find_map(|r| r.err())
        .expect("the iteration went on past a compacted revision");
    assert!(matches!(err, Error::Compacted { .. }), "{err}");
    assert!(it.next().is_none(), "the iterator goes on after its error");
}

#[test]
fn limits_keys_only_ranges_and_namespaces() {
    let cluster = common::Cluster::single();
    let c = Client::connect(cluster.endpoints()).unwrap();
    fill(&c, "lim/", 1000, 10);
    let got: Vec<_> = c
        .get_iter("lim/", GetOptions::new().prefix().limit(250), 100)
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(got.len(), 250);
    assert_eq!(got[249].key(), b"lim/000249");
    let keys_only: Vec<_> = c
        .get_iter("lim/", GetOptions::new().prefix().keys_only(), 300)
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(keys_only.len(), 1000);
    assert!(keys_only.iter().all(|kv| kv.value().is_empty()));
    let range: Vec<_> = c
        .get_iter("lim/000100", GetOptions::new().range_end("lim/000200"), 7)
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(range.len(), 100);
    let from: Vec<_> = c
        .get_iter("lim/000990", GetOptions::new().from_key(), 3)
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(from.len(), 10);
    // A namespace's keys come back without it, every page.
    let ns: Vec<_> = c
        .with_namespace("lim/")
        .get_iter("", GetOptions::new().prefix(), 64)
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(ns.len(), 1000);
    assert_eq!(ns[0].key(), b"000000");

    for (opts, page) in [
        (GetOptions::new().prefix(), 0),
        (GetOptions::new().prefix().count_only(), 10),
        (
            GetOptions::new()
                .prefix()
                .sort(SortTarget::Mod, SortOrder::Descend),
            10,
        ),
        (GetOptions::new().prefix().min_mod_revision(2), 10),
    ] {
        let e = c.get_iter("lim/", opts, page).unwrap_err();
        assert!(matches!(e, Error::InvalidRequest(_)), "{e}");
    }
}
