//! A throwaway PKI for TLS tests, made with the `openssl` CLI: two
//! unrelated CAs, server certificates for `127.0.0.1`/`localhost` and for
//! `etcd.test`, and a client certificate. Depends on `std`, `tempfile`
//! and this crate's harness directory.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use crate::process::harness_root;

/// The throwaway PKI, made once per process by [`pki`].
pub struct Pki {
    dir: tempfile::TempDir,
}

impl Pki {
    /// Path of one of the files (`ca.pem`, `server.key`, …).
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Contents of one of the files.
    pub fn read(&self, name: &str) -> Vec<u8> {
        let p = self.path(name);
        std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
    }
}

/// `openssl` config for `req`: `-subj` gives the names, `v3_ca` the CA
/// extensions. Our own file, so the system's openssl.cnf does not matter.
const REQ_CONFIG: &str = "\
[req]
distinguished_name = dn
prompt = no

[dn]
CN = placeholder

[v3_ca]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
";

/// Server certificate extensions (`clientAuth` too: etcd's gRPC gateway
/// dials its own TLS listener with the server certificate).
fn server_ext(san: &str) -> String {
    format!(
        "basicConstraints = critical, CA:FALSE\n\
         keyUsage = critical, digitalSignature, keyEncipherment\n\
         extendedKeyUsage = serverAuth, clientAuth\n\
         subjectAltName = {san}\n"
    )
}

const CLIENT_EXT: &str = "\
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = clientAuth
";

/// Runs `openssl` in `dir` with `cmdline` split at whitespace (no argument
/// here contains a space).
fn openssl(dir: &Path, cmdline: &str) {
    let out = Command::new("openssl")
        .args(cmdline.split_whitespace())
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run openssl (install the Debian package `openssl`): {e}")
        });
    assert!(
        out.status.success(),
        "openssl {cmdline} failed ({}):\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

/// EC P-256 keys: quick to make, and both etcd and gRPC take them.
const NEW_KEY: &str = "-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes";

/// A self-signed CA: `<name>.pem`, `<name>.key`.
fn make_ca(dir: &Path, name: &str, cn: &str) {
    openssl(
        dir,
        &format!(
            "req -x509 -config req.cnf -extensions v3_ca {NEW_KEY} -sha256 -days 7 \
             -subj {cn} -keyout {name}.key -out {name}.pem"
        ),
    );
}

/// A leaf certificate signed by CA `ca`, with the extensions `ext`:
/// `<name>.pem`, `<name>.key`.
fn make_leaf(dir: &Path, ca: &str, name: &str, cn: &str, ext: &str, serial: u32) {
    std::fs::write(dir.join(format!("{name}.ext")), ext).unwrap();
    openssl(
        dir,
        &format!(
            "req -new -config req.cnf {NEW_KEY} -subj {cn} -keyout {name}.key -out {name}.csr"
        ),
    );
    openssl(
        dir,
        &format!(
            "x509 -req -in {name}.csr -CA {ca}.pem -CAkey {ca}.key -set_serial {serial} \
             -sha256 -days 7 -extfile {name}.ext -out {name}.pem"
        ),
    );
}

/// The process's throwaway PKI (made on first use, in the harness
/// directory, so it goes away with the process):
/// * `ca.pem`/`ca.key`: the CA everything below is signed by;
///   `other-ca.pem`: an unrelated CA;
/// * `server.pem`/`.key`: `IP:127.0.0.1, DNS:localhost`;
/// * `server-named.pem`/`.key`: `DNS:etcd.test` only;
/// * `client.pem`/`.key`: a client certificate (`clientAuth`).
///
/// Made with the `openssl` CLI (Debian package `openssl`).
pub fn pki() -> &'static Pki {
    static PKI: OnceLock<Pki> = OnceLock::new();
    PKI.get_or_init(|| {
        // Inside the harness directory: removed when the test process ends.
        let dir = tempfile::Builder::new()
            .prefix("tls-pki-")
            .tempdir_in(harness_root())
            .expect("cannot create the PKI directory");
        let d = dir.path();
        std::fs::write(d.join("req.cnf"), REQ_CONFIG).unwrap();
        make_ca(d, "ca", "/CN=etcd-blocking-test-CA");
        make_ca(d, "other-ca", "/CN=unrelated-CA");
        let ip_san = server_ext("IP:127.0.0.1, DNS:localhost");
        make_leaf(d, "ca", "server", "/CN=etcd-server", &ip_san, 1001);
        let dns_san = server_ext("DNS:etcd.test");
        make_leaf(d, "ca", "server-named", "/CN=etcd.test", &dns_san, 1002);
        make_leaf(d, "ca", "client", "/CN=etcd-client", CLIENT_EXT, 1003);
        Pki { dir }
    })
}
