//! The etcd binary and its version. Depends on `std` only.

use std::ffi::OsStr;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

/// Path of the etcd binary used by the harness: `ETCD_BIN` (a path, or a bare
/// name looked up on `PATH`), else `etcd` on `PATH`, else `/usr/bin/etcd`.
/// Panics with an install hint when none exists. Cached.
pub fn etcd_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        if let Some(bin) = std::env::var_os("ETCD_BIN").filter(|b| !b.is_empty()) {
            let bin = PathBuf::from(bin);
            if bin.components().count() == 1 {
                if let Some(found) = find_in_path(bin.as_os_str()) {
                    return found;
                }
            }
            assert!(
                is_executable(&bin),
                "ETCD_BIN={} is not an executable file",
                bin.display()
            );
            return bin;
        }
        if let Some(found) = find_in_path(OsStr::new("etcd")) {
            return found;
        }
        let fallback = PathBuf::from("/usr/bin/etcd");
        if is_executable(&fallback) {
            return fallback;
        }
        panic!(
            "etcd binary not found: set ETCD_BIN or put etcd on PATH \
             (scripts/install-deps.sh installs /usr/bin/etcd)"
        )
    })
}

fn find_in_path(name: &OsStr) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| is_executable(candidate))
}

fn is_executable(path: &Path) -> bool {
    fs::metadata(path)
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

/// Version of the etcd binary as `(major, minor, patch)`, parsed from
/// `etcd --version` (e.g. `(3, 4, 23)` or `(3, 5, 1)`). Cached.
pub fn etcd_version() -> (u32, u32, u32) {
    static VERSION: OnceLock<(u32, u32, u32)> = OnceLock::new();
    *VERSION.get_or_init(|| {
        let bin = etcd_bin();
        let mut cmd = Command::new(bin);
        cmd.arg("--version").stdin(Stdio::null());
        scrub_etcd_env(&mut cmd);
        let out = cmd
            .output()
            .unwrap_or_else(|e| panic!("cannot run `{} --version`: {e}", bin.display()));
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        parse_etcd_version(&text).unwrap_or_else(|| {
            panic!(
                "cannot parse the output of `{} --version`: {text:?}",
                bin.display()
            )
        })
    })
}

/// True when the etcd binary is at least `major.minor` (e.g.
/// `etcd_at_least(3, 5)`).
pub fn etcd_at_least(major: u32, minor: u32) -> bool {
    let (ma, mi, _) = etcd_version();
    (ma, mi) >= (major, minor)
}

fn parse_etcd_version(text: &str) -> Option<(u32, u32, u32)> {
    let line = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("etcd Version:"))?;
    let mut parts = line.trim().trim_start_matches('v').split('.').map(|p| {
        let digits: String = p.chars().take_while(|c| c.is_ascii_digit()).collect();
        digits.parse::<u32>().ok()
    });
    Some((
        parts.next()??,
        parts.next()??,
        parts.next().flatten().unwrap_or(0),
    ))
}

/// Removes `ETCD_*` variables (e.g. `ETCD_BIN`, `ETCD_ENDPOINTS`) from a
/// child's environment: etcd reads every `ETCD_<FLAG>` variable as a flag.
pub(crate) fn scrub_etcd_env(cmd: &mut Command) {
    for (key, _) in std::env::vars_os() {
        let k = key.to_string_lossy();
        if k.starts_with("ETCD_") && k != "ETCD_UNSUPPORTED_ARCH" {
            cmd.env_remove(&key);
        }
    }
}
