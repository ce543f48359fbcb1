//! Process-wide runtime: the harness directory (and sweeping the ones left
//! by dead test processes), the cleanup watchdog, and the spawner thread
//! that starts every etcd with `PR_SET_PDEATHSIG`. Depends on `std` and
//! `libc`.

use std::collections::hash_map::RandomState;
use std::fs;
use std::hash::{BuildHasher, Hasher};
use std::io::{self, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Mutex, MutexGuard, OnceLock};
use std::thread;
use std::time::{SystemTime, UNIX_EPOCH};

struct SpawnRequest {
    cmd: Command,
    reply: mpsc::Sender<io::Result<Child>>,
}

struct Runtime {
    root: PathBuf,
    watchdog: Mutex<Option<ChildStdin>>,
    spawner: Mutex<mpsc::Sender<SpawnRequest>>,
}

/// Shell run by the watchdog. It reads the pids of spawned etcd processes
/// from its stdin until EOF (the test process has exited), then SIGKILLs
/// those whose command line still names the harness directory, waits for
/// them to go and removes the directory.
const WATCHDOG_SCRIPT: &str = r#"
trap '' INT HUP TERM PIPE
root=$1
pids=
while read -r pid; do pids="$pids $pid"; done
alive() { [ -r "/proc/$1/cmdline" ] && grep -qaF -- "$root" "/proc/$1/cmdline" 2>/dev/null; }
for p in $pids; do alive "$p" && kill -9 "$p" 2>/dev/null; done
i=0
while [ "$i" -lt 50 ]; do
  left=
  for p in $pids; do alive "$p" && left=1; done
  [ -z "$left" ] && break
  sleep 0.1
  i=$((i + 1))
done
rm -rf -- "$root" 2>/dev/null || { sleep 1; rm -rf -- "$root"; }
"#;

const ROOT_PREFIX: &str = "etcd-harness-";

fn runtime() -> &'static Runtime {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        let root = create_root();

        let mut wd = Command::new("/bin/sh");
        wd.arg("-c")
            .arg(WATCHDOG_SCRIPT)
            .arg("etcd-harness-watchdog")
            .arg(&root)
            .current_dir("/")
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        // Own session: a Ctrl-C or a process-group kill aimed at the tests
        // must not take the watchdog down before it has cleaned up.
        unsafe {
            wd.pre_exec(|| {
                libc::setsid();
                Ok(())
            });
        }
        // The Child handle is dropped on purpose: the watchdog outlives us.
        let watchdog = match wd.spawn() {
            Ok(mut child) => child.stdin.take(),
            Err(e) => {
                eprintln!("etcd harness: cannot start the cleanup watchdog: {e}");
                None
            }
        };

        let (tx, rx) = mpsc::channel::<SpawnRequest>();
        // PR_SET_PDEATHSIG fires when the *thread* that forked the child
        // exits, so every etcd is forked by this thread, which never exits
        // (the Sender lives in a static).
        thread::Builder::new()
            .name("etcd-harness-spawner".into())
            .spawn(move || {
                for mut req in rx {
                    let result = req.cmd.spawn();
                    let _ = req.reply.send(result);
                }
            })
            .expect("cannot start the etcd spawner thread");

        Runtime {
            root,
            watchdog: Mutex::new(watchdog),
            spawner: Mutex::new(tx),
        }
    })
}

/// Directory holding every cluster of this test process
/// (`<base>/etcd-harness-<pid>-<nonce>`). It is removed by the watchdog when
/// the process exits.
pub fn harness_root() -> &'static Path {
    &runtime().root
}

fn create_root() -> PathBuf {
    let mut bases = Vec::new();
    if let Some(dir) = std::env::var_os("ETCD_HARNESS_DIR").filter(|d| !d.is_empty()) {
        bases.push(PathBuf::from(dir));
    } else {
        if Path::new("/dev/shm").is_dir() {
            bases.push(PathBuf::from("/dev/shm"));
        }
        bases.push(std::env::temp_dir());
    }
    let mut errors = Vec::new();
    for base in &bases {
        sweep_stale_roots(base);
        for _ in 0..10 {
            let name = format!(
                "{ROOT_PREFIX}{}-{:08x}",
                std::process::id(),
                rand_u64() as u32
            );
            let root = base.join(name);
            match fs::create_dir_all(base).and_then(|_| fs::create_dir(&root)) {
                Ok(()) => return root,
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => {
                    errors.push(format!("{}: {e}", root.display()));
                    break;
                }
            }
        }
    }
    panic!(
        "cannot create the etcd harness directory: {}",
        errors.join("; ")
    )
}

/// Removes `etcd-harness-<pid>-*` directories of processes that no longer
/// exist (killing any etcd still using them).
fn sweep_stale_roots(base: &Path) {
    let Ok(entries) = fs::read_dir(base) else {
        return;
    };
    let mut stale = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let Some(rest) = name.strip_prefix(ROOT_PREFIX) else {
            continue;
        };
        let Some(pid) = rest.split('-').next().and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        if pid != std::process::id() && !Path::new(&format!("/proc/{pid}")).exists() {
            stale.push(entry.path());
        }
    }
    if stale.is_empty() {
        return;
    }
    if let Ok(procs) = fs::read_dir("/proc") {
        for p in procs.flatten() {
            let Ok(pid) = p.file_name().to_string_lossy().parse::<i32>() else {
                continue;
            };
            let Ok(cmdline) = fs::read(p.path().join("cmdline")) else {
                continue;
            };
            let cmdline = String::from_utf8_lossy(&cmdline);
            if stale
                .iter()
                .any(|s| cmdline.contains(&*s.to_string_lossy()))
            {
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
        }
    }
    for dir in stale {
        let _ = fs::remove_dir_all(dir);
    }
}

/// Spawns `cmd` from the spawner thread with `PR_SET_PDEATHSIG = SIGKILL`
/// and registers its pid with the watchdog.
pub(crate) fn spawn_guarded(mut cmd: Command) -> io::Result<Child> {
    let rt = runtime();
    let parent = unsafe { libc::getpid() };
    // Only async-signal-safe calls in here: this runs between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            if libc::prctl(
                libc::PR_SET_PDEATHSIG,
                libc::SIGKILL as libc::c_ulong,
                0,
                0,
                0,
            ) != 0
            {
                return Err(io::Error::last_os_error());
            }
            // The parent may have died before the prctl took effect.
            if libc::getppid() != parent {
                return Err(io::Error::from_raw_os_error(libc::ESRCH));
            }
            Ok(())
        });
    }
    let (reply, result) = mpsc::channel();
    lock(&rt.spawner)
        .send(SpawnRequest { cmd, reply })
        .expect("etcd spawner thread is gone");
    let child = result.recv().expect("etcd spawner thread is gone")?;
    if let Some(pipe) = lock(&rt.watchdog).as_mut() {
        let _ = writeln!(pipe, "{}", child.id());
    }
    Ok(child)
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

pub(crate) fn rand_u64() -> u64 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut h = RandomState::new().build_hasher();
    h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    h.write_u128(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos(),
    );
    h.finish()
}
