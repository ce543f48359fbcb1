//! Snapshots: streaming a member's backend into a writer or a file, and
//! verifying it on the way (etcd's remaining-byte counts and its trailing
//! SHA-256), so a short or corrupt snapshot is an error, never a file.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use sha2::{Digest, Sha256};

use crate::client::Client;
use crate::error::{Error, Result};
use crate::proto::{methods, rpc as pb};

/// Length of the SHA-256 checksum etcd appends to a snapshot stream.
const CHECKSUM_LEN: usize = 32;

/// A snapshot that was received whole and verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotInfo {
    size: u64,
    sha256: [u8; CHECKSUM_LEN],
    version: String,
}

impl SnapshotInfo {
    /// Bytes written: the backend plus the 32-byte checksum at its end
    /// (as `etcdctl snapshot save` writes it, and as `snapshot restore`
    /// expects it).
    pub fn size(&self) -> u64 {
        self.size
    }
    /// Bytes of the backend itself (the size without the checksum).
    pub fn db_size(&self) -> u64 {
        self.size - CHECKSUM_LEN as u64
    }
    /// The SHA-256 of the backend, which is also the last 32 bytes written.
    pub fn sha256(&self) -> [u8; CHECKSUM_LEN] {
        self.sha256
    }
    /// The storage version of the snapshot's backend, as the member sent
    /// it (e.g. `3.6.0`). etcd 3.6 and later only: empty from 3.4 and 3.5,
    /// which do not send it.
    pub fn version(&self) -> &str {
        &self.version
    }
}

/// Checks a snapshot stream as it goes by: etcd sends the backend in
/// chunks, each with the bytes still to come, then the SHA-256 of all of
/// it (with 0 remaining). The last 32 bytes seen are held back from the
/// hash until the stream ends, when they must equal it.
#[derive(Default)]
pub(crate) struct SnapshotVerifier {
    hasher: Sha256,
    /// The last (up to) 32 bytes seen, not hashed yet.
    tail: Vec<u8>,
    bytes: u64,
    /// Backend size etcd announced (first chunk's length plus what it
    /// said remained).
    announced: Option<u64>,
    last_remaining: Option<u64>,
    /// The storage version etcd 3.6+ sends with the stream.
    version: String,
}

impl SnapshotVerifier {
    /// Takes one chunk and the remaining byte count etcd sent with it.
    /// Keeps the storage version a chunk carries (etcd 3.6 sends it in the
    /// first one; older servers never do).
    pub(crate) fn note_version(&mut self, version: String) {
        if self.version.is_empty() {
            self.version = version;
        }
    }

    pub(crate) fn update(&mut self, blob: &[u8], remaining: u64) {
        if self.announced.is_none() {
            self.announced = Some(remaining.saturating_add(blob.len() as u64));
        }
        self.bytes += blob.len() as u64;
        self.last_remaining = Some(remaining);
        let held = self.tail.len() + blob.len();
        if held <= CHECKSUM_LEN {
            self.tail.extend_from_slice(blob);
            return;
        }
        // Hash everything but the last 32 bytes of tail + blob.
        let hash_now = held - CHECKSUM_LEN;
        let from_tail = hash_now.min(self.tail.len());
        self.hasher.update(&self.tail[..from_tail]);
        self.tail.drain(..from_tail);
        let from_blob = hash_now - from_tail;
        self.hasher.update(&blob[..from_blob]);
        self.tail.extend_from_slice(&blob[from_blob..]);
    }

    /// Bytes seen so far.
    pub(crate) fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Checks the stream is whole and its checksum right; returns the
    /// checksum.
    pub(crate) fn finish(self) -> Result<SnapshotInfo> {
        let bad = |why: String| Err(Error::Snapshot(why));
        match self.last_remaining {
            None => return bad("the stream ended before any data".into()),
            Some(0) => {}
            Some(n) => {
                return bad(format!(
                    "the stream ended after {} bytes with {n} bytes still to come",
                    self.bytes
                ))
            }
        }
        if self.tail.len() < CHECKSUM_LEN || self.bytes <= CHECKSUM_LEN as u64 {
            return bad(format!(
                "{} bytes is too short for a backend and its checksum",
                self.bytes
            ));
        }
        if let Some(db) = self.announced {
            if self.bytes != db + CHECKSUM_LEN as u64 {
                return bad(format!(
                    "received {} bytes, but etcd announced {db} bytes and a {CHECKSUM_LEN}-byte checksum",
                    self.bytes
                ));
            }
        }
        let digest: [u8; CHECKSUM_LEN] = self.hasher.finalize().into();
        if digest[..] != self.tail[..] {
            return bad("the SHA-256 checksum at the end does not match the data".into());
        }
        Ok(SnapshotInfo {
            size: self.bytes,
            sha256: digest,
            version: self.version,
        })
    }
}

fn io_error(e: io::Error, what: &str) -> Error {
    Error::Io(Arc::new(io::Error::new(e.kind(), format!("{what}: {e}"))))
}

/// Snapshot calls.
impl Client {
    /// Streams a snapshot of the backend of the member this handle talks
    /// to into `w`, and verifies it: etcd ends the stream with a SHA-256 of
    /// the backend, which is written too (it is part of the snapshot
    /// format: `etcdctl snapshot restore` checks it). `progress` is called
    /// after each chunk with the bytes received so far and the bytes etcd
    /// says remain.
    ///
    /// A stream that ends early, whose remaining count does not reach 0 or
    /// whose checksum does not match fails with [`Error::Snapshot`]; a
    /// failing writer with [`Error::Io`]. On any error `w` holds a partial,
    /// unusable stream: [`snapshot_save`](Self::snapshot_save) writes a
    /// file only when it is verified.
    ///
    /// The whole stream runs within the handle's deadline: give a large
    /// backend a longer one with [`Client::with_timeout`]. Aim it at a
    /// member with `client.with_endpoint(ep)?.snapshot_to(…)`.
    ///
    /// Streaming to standard output (to pipe into a compressor or an
    /// upload), with progress on standard error:
    ///
    /// ```no_run
    /// use std::time::Duration;
    /// # let client = etcd_blocking::Client::connect(["127.0.0.1:2379"])?;
    /// let mut out = std::io::stdout().lock();
    /// let info = client
    ///     .with_timeout(Duration::from_secs(600))
    ///     .snapshot_to(&mut out, |got, left| eprint!("\r{got} B received, {left} B to go"))?;
    /// eprintln!("\n{} B of backend, verified", info.db_size());
    /// # Ok::<(), etcd_blocking::Error>(())
    /// ```
    pub fn snapshot_to(
        &self,
        w: &mut dyn Write,
        mut progress: impl FnMut(u64, u64),
    ) -> Result<SnapshotInfo> {
        let mut verifier = SnapshotVerifier::default();
        self.server_streaming(
            &methods::MAINTENANCE_SNAPSHOT,
            &pb::SnapshotRequest::default(),
            &mut |r: pb::SnapshotResponse| {
                w.write_all(&r.blob)
                    .map_err(|e| io_error(e, "writing the snapshot"))?;
                verifier.update(&r.blob, r.remaining_bytes);
                verifier.note_version(r.version);
                progress(verifier.bytes(), r.remaining_bytes);
                Ok(())
            },
        )?;
        w.flush().map_err(|e| io_error(e, "writing the snapshot"))?;
        verifier.finish()
    }

    /// Saves a verified snapshot to `path` (as `etcdctl snapshot save`):
    /// it is streamed into a temporary file in the same directory, checked
    /// (see [`snapshot_to`](Self::snapshot_to)), flushed to disk, and only
    /// then renamed to `path`, replacing any file there. On failure the
    /// temporary file is removed and `path` is left as it was.
    ///
    /// ```no_run
    /// use std::time::Duration;
    /// # let client = etcd_blocking::Client::connect(["127.0.0.1:2379"])?;
    /// // Large backends take a while: give the call a long deadline.
    /// let info = client
    ///     .with_timeout(Duration::from_secs(600))
    ///     .snapshot_save("/var/backups/etcd.db")?;
    /// let sha: String = info.sha256().iter().map(|b| format!("{b:02x}")).collect();
    /// println!("saved {} bytes, sha256 {sha}", info.size());
    /// # Ok::<(), etcd_blocking::Error>(())
    /// ```
    pub fn snapshot_save(&self, path: impl AsRef<Path>) -> Result<SnapshotInfo> {
        let path = path.as_ref();
        let name = path.file_name().ok_or_else(|| {
            Error::InvalidRequest(format!("{} does not name a file", path.display()))
        })?;
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        let (tmp, file) = create_temp(dir, name)?;
        let saved = (|| {
            let mut w = BufWriter::with_capacity(256 * 1024, &file);
            let info = self.snapshot_to(&mut w, |_, _| {})?;
            drop(w);
            let what = tmp.display().to_string();
            file.sync_all().map_err(|e| io_error(e, &what))?;
            fs::rename(&tmp, path)
                .map_err(|e| io_error(e, &format!("renaming {what} to {}", path.display())))?;
            Ok(info)
        })();
        if saved.is_err() {
            let _ = fs::remove_file(&tmp);
            return saved;
        }
        // Make the rename itself durable; the file is in place and whole
        // either way.
        if let Err(e) = File::open(dir).and_then(|d| d.sync_all()) {
            log::warn!("syncing directory {}: {e}", dir.display());
        }
        saved
    }
}

/// Creates a fresh temporary file next to the target.
fn create_temp(dir: &Path, name: &std::ffi::OsStr) -> Result<(PathBuf, File)> {
    static SEQ: AtomicU64 = AtomicU64::new(0);
    loop {
        let n = SEQ.fetch_add(1, Ordering::Relaxed);
        let mut tmp_name = std::ffi::OsString::from(".");
        tmp_name.push(name);
        tmp_name.push(format!(".{}.{n}.part", std::process::id()));
        let tmp = dir.join(tmp_name);
        match OpenOptions::new().write(true).create_new(true).open(&tmp) {
            Ok(f) => return Ok((tmp, f)),
            // Left by an earlier process with the same pid: try the next.
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(io_error(e, &tmp.display().to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stream as etcd sends it: `db` in chunks of `chunk` bytes, each
    /// with the bytes remaining, then the SHA-256 of `db` with 0 remaining.
    fn stream(db: &[u8], chunk: usize) -> Vec<(Vec<u8>, u64)> {
        let mut out = Vec::new();
        let mut sent = 0;
        for c in db.chunks(chunk) {
            sent += c.len();
            out.push((c.to_vec(), (db.len() - sent) as u64));
        }
        out.push((Sha256::digest(db).to_vec(), 0));
        out
    }

    fn verify(msgs: &[(Vec<u8>, u64)]) -> Result<SnapshotInfo> {
        let mut v = SnapshotVerifier::default();
        for (blob, remaining) in msgs {
            v.update(blob, *remaining);
        }
        v.finish()
    }

    fn db(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 7 + i / 251) as u8).collect()
    }

    #[test]
    fn whole_streams_verify_whatever_the_chunking() {
        for (len, chunk) in [(1, 1), (31, 4), (32, 32), (33, 5), (100_000, 4096)] {
            let db = db(len);
            let info = verify(&stream(&db, chunk)).unwrap_or_else(|e| panic!("{len}/{chunk}: {e}"));
            assert_eq!(info.size(), len as u64 + 32);
            assert_eq!(info.db_size(), len as u64);
            assert_eq!(info.sha256()[..], Sha256::digest(&db)[..]);
        }
        // Chunks that straddle the checksum, and empty chunks.
        let db = db(1000);
        let mut all = db.clone();
        all.extend_from_slice(&Sha256::digest(&db));
        let mut v = SnapshotVerifier::default();
        let mut sent = 0;
        for c in [
            &all[..0],
            &all[..990],
            &all[990..1010],
            &all[1010..1011],
            &all[1011..],
        ] {
            sent += c.len();
            v.update(c, 1000u64.saturating_sub(sent as u64));
        }
        assert!(v.finish().is_ok());
    }

    #[test]
    fn truncated_streams_are_errors() {
        let db = db(10_000);
        let whole = stream(&db, 1024);
        // Ends before the checksum, at each chunk boundary.
        for cut in 1..whole.len() {
            let e = verify(&whole[..cut]).unwrap_err();
            assert!(matches!(e, Error::Snapshot(_)), "cut {cut}: {e}");
        }
        // Nothing at all.
        assert!(matches!(verify(&[]), Err(Error::Snapshot(_))));
        // The checksum cut short.
        let mut short = whole.clone();
        short.last_mut().unwrap().0.truncate(31);
        assert!(matches!(verify(&short), Err(Error::Snapshot(_))));
        // A chunk missing in the middle, even with a checksum that matches
        // what is left: fewer bytes than etcd announced.
        let mut gap = whole.clone();
        gap.remove(3);
        let left: Vec<u8> = gap[..gap.len() - 1]
            .iter()
            .flat_map(|(b, _)| b.clone())
            .collect();
        gap.last_mut().unwrap().0 = Sha256::digest(&left).to_vec();
        let e = verify(&gap).unwrap_err();
        assert!(
            matches!(&e, Error::Snapshot(m) if m.contains("announced")),
            "{e}"
        );
        // Only a checksum.
        assert!(matches!(
            verify(&[(Sha256::digest(b"").to_vec(), 0)]),
            Err(Error::Snapshot(_))
        ));
    }

    #[test]
    fn a_flipped_byte_is_an_error() {
        let db = db(10_000);
        let whole = stream(&db, 1024);
        for (chunk, byte) in [(0, 0), (4, 17), (9, 783), (10, 0), (10, 31)] {
            let mut bad = whole.clone();
            bad[chunk].0[byte] ^= 0x40;
            let e = verify(&bad).unwrap_err();
            assert!(
                matches!(&e, Error::Snapshot(m) if m.contains("checksum")),
                "{chunk}/{byte}: {e}"
            );
        }
    }

    #[test]
    fn snapshot_errors_read_well() {
        let e = Error::Snapshot("the stream ended".into());
        assert_eq!(e.to_string(), "bad snapshot: the stream ended");
        let e = io_error(io::Error::from(io::ErrorKind::NotFound), "/x/y");
        assert!(matches!(&e, Error::Io(io) if io.kind() == io::ErrorKind::NotFound));
        assert!(e.to_string().starts_with("I/O: /x/y: "), "{e}");
    }
}
