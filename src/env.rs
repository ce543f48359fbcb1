//! etcdctl's environment variables (`ETCDCTL_*`, etcdctl 3.4 and 3.5) read
//! into a [`Config`], with etcdctl's parsing and defaults, for
//! [`ClientBuilder::from_env`](crate::ClientBuilder::from_env).
//!
//! As in etcdctl (`pkg/flags.SetPflagsFromEnv`), an empty variable counts
//! as unset, endpoints are a comma-separated list (CSV, so a quoted field
//! may hold a comma) with spaces trimmed, durations use Go's syntax
//! (`5s`, `1m30s`, `250ms`) and booleans Go's `strconv.ParseBool`. A
//! value that cannot be parsed is [`Error::InvalidConfig`] naming the
//! variable and the value (never a password).
//!
//! Where etcdctl's defaults differ from the crate's, etcdctl's win here:
//! dial (connect) timeout 2 s, command (request) timeout 5 s, keepalive
//! timeout 6 s. etcdctl's keepalive time is 2 s, which Go's gRPC raises
//! to its floor of 10 s; we apply the same floor, since etcd answers
//! pings more often than every 5 s by closing the connection.

use std::time::Duration;

use crate::config::Config;
use crate::discovery::SrvDiscovery;
use crate::error::{Error, Result};
use crate::session::Credentials;
use crate::tls::TlsOptions;

/// etcdctl's `--endpoints` default.
pub(crate) const DEFAULT_ENDPOINT: &str = "127.0.0.1:2379";
/// etcdctl's `--dial-timeout` default.
pub(crate) const DIAL_TIMEOUT: Duration = Duration::from_secs(2);
/// etcdctl's `--command-timeout` default.
pub(crate) const COMMAND_TIMEOUT: Duration = Duration::from_secs(5);
/// etcdctl's `--keepalive-time` default (before the floor below).
pub(crate) const KEEPALIVE_TIME: Duration = Duration::from_secs(2);
/// etcdctl's `--keepalive-timeout` default.
pub(crate) const KEEPALIVE_TIMEOUT: Duration = Duration::from_secs(6);
/// Go gRPC's smallest keepalive time; shorter ones are raised to it.
pub(crate) const KEEPALIVE_TIME_FLOOR: Duration = Duration::from_secs(10);

/// Reads the variables through `var` (`None`: unset) into a config.
///
/// The steps run in a fixed order, so when several variables are wrong the
/// same one is reported every time: endpoints, timeouts, transport
/// security, certificate files, SRV discovery, credentials.
pub(crate) fn config_from(var: &dyn Fn(&str) -> Result<Option<String>>) -> Result<Config> {
    let vars = Vars { var };
    let mut cfg = Config::new(Vec::new());
    let endpoints = endpoints(&vars)?;
    timeouts(&vars, &mut cfg)?;
    let insecure_transport = transport_security(&vars)?;
    let mut tls = tls_files(&vars)?;
    cfg.discovery = srv_discovery(&vars, &mut tls)?;
    if tls.is_none() && !insecure_transport {
        tls = Some(TlsOptions::new());
    }
    // Endpoints without a scheme are dialed with the TLS settings when
    // there are any, as etcdctl does: the configuration's rule.
    cfg.endpoints = endpoints;
    cfg.tls = tls;
    cfg.credentials = credentials(&|name| vars.get(name))?;
    Ok(cfg)
}

/// The variables, read the way etcdctl reads them.
struct Vars<'a> {
    var: &'a dyn Fn(&str) -> Result<Option<String>>,
}

impl Vars<'_> {
    /// The value of `name`; an empty value counts as unset, as in etcdctl.
    fn get(&self, name: &str) -> Result<Option<String>> {
        Ok((self.var)(name)?.filter(|v| !v.is_empty()))
    }

    /// A positive Go duration, or `default` when unset.
    fn duration(&self, name: &str, default: Duration) -> Result<Duration> {
        let Some(v) = self.get(name)? else {
            return Ok(default);
        };
        let d = parse_go_duration(&v).map_err(|why| invalid(name, &v, &why))?;
        if d.is_zero() {
            return Err(invalid(name, &v, "must be positive"));
        }
        Ok(d)
    }

    /// A Go boolean, or `default` when unset.
    fn boolean(&self, name: &str, default: bool) -> Result<bool> {
        match self.get(name)? {
            None => Ok(default),
            Some(v) => parse_go_bool(&v)
                .ok_or_else(|| invalid(name, &v, "not a boolean (true, false, 1, 0, t, f)")),
        }
    }
}

/// The error for a value that cannot be used (never for a password).
fn invalid(name: &str, value: &str, why: &str) -> Error {
    Error::InvalidConfig(format!("invalid value {value:?} for {name}: {why}"))
}

/// `ETCDCTL_ENDPOINTS`: a CSV list, each one checked, or etcdctl's default.
fn endpoints(vars: &Vars<'_>) -> Result<Vec<String>> {
    const NAME: &str = "ETCDCTL_ENDPOINTS";
    let Some(v) = vars.get(NAME)? else {
        return Ok(vec![DEFAULT_ENDPOINT.to_string()]);
    };
    let list: Vec<String> = split_csv(&v)
        .map_err(|why| invalid(NAME, &v, &why))?
        .into_iter()
        .map(|e| e.trim().to_string())
        .filter(|e| !e.is_empty())
        .collect();
    if list.is_empty() {
        return Err(invalid(NAME, &v, "no endpoint in the list"));
    }
    for e in &list {
        crate::endpoint::Endpoint::parse(e).map_err(|err| invalid(NAME, &v, &err.to_string()))?;
    }
    Ok(list)
}

/// The dial, command and keepalive timeouts, with etcdctl's defaults and
/// Go gRPC's keepalive floor.
fn timeouts(vars: &Vars<'_>, cfg: &mut Config) -> Result<()> {
    cfg.connect_timeout = vars.duration("ETCDCTL_DIAL_TIMEOUT", DIAL_TIMEOUT)?;
    cfg.request_timeout = vars.duration("ETCDCTL_COMMAND_TIMEOUT", COMMAND_TIMEOUT)?;
    cfg.keepalive_time = vars
        .duration("ETCDCTL_KEEPALIVE_TIME", KEEPALIVE_TIME)?
        .max(KEEPALIVE_TIME_FLOOR);
    cfg.keepalive_timeout = vars.duration("ETCDCTL_KEEPALIVE_TIMEOUT", KEEPALIVE_TIMEOUT)?;
    Ok(())
}

/// `ETCDCTL_INSECURE_TRANSPORT` (whether plain text is allowed; `false`
/// turns TLS on with the system's roots), and the refusal of
/// `ETCDCTL_INSECURE_SKIP_TLS_VERIFY`.
fn transport_security(vars: &Vars<'_>) -> Result<bool> {
    let insecure_transport = vars.boolean("ETCDCTL_INSECURE_TRANSPORT", true)?;
    if vars.boolean("ETCDCTL_INSECURE_SKIP_TLS_VERIFY", false)? {
        return Err(Error::InvalidConfig(
            "ETCDCTL_INSECURE_SKIP_TLS_VERIFY=true is not supported: gRPC's TLS here always \
             verifies the server; trust its CA with ETCDCTL_CACERT instead"
                .into(),
        ));
    }
    Ok(insecure_transport)
}

/// `ETCDCTL_CACERT` and the client identity `ETCDCTL_CERT` +
/// `ETCDCTL_KEY` (both or neither): any of them turns TLS on.
fn tls_files(vars: &Vars<'_>) -> Result<Option<TlsOptions>> {
    let mut tls: Option<TlsOptions> = None;
    if let Some(ca) = vars.get("ETCDCTL_CACERT")? {
        tls = Some(
            TlsOptions::new()
                .ca_file(&ca)
                .map_err(|e| file_err("ETCDCTL_CACERT", &ca, e))?,
        );
    }
    const BOTH: &str = "(etcdctl: KeyFile and CertFile must both be present)";
    match (vars.get("ETCDCTL_CERT")?, vars.get("ETCDCTL_KEY")?) {
        (Some(cert), Some(key)) => Ok(Some(identity(tls.unwrap_or_default(), &cert, &key)?)),
        (Some(cert), None) => Err(invalid(
            "ETCDCTL_CERT",
            &cert,
            &format!("ETCDCTL_KEY must be set too {BOTH}"),
        )),
        (None, Some(key)) => Err(invalid(
            "ETCDCTL_KEY",
            &key,
            &format!("ETCDCTL_CERT must be set too {BOTH}"),
        )),
        (None, None) => Ok(tls),
    }
}

/// Adds the client identity from these files, reporting the variable
/// whose file is at fault.
fn identity(tls: TlsOptions, cert: &str, key: &str) -> Result<TlsOptions> {
    std::fs::metadata(cert).map_err(|e| invalid("ETCDCTL_CERT", cert, &e.to_string()))?;
    std::fs::metadata(key).map_err(|e| invalid("ETCDCTL_KEY", key, &e.to_string()))?;
    tls.identity_files(cert, key).map_err(|e| {
        if e.to_string().contains("client key") {
            file_err("ETCDCTL_KEY", key, e)
        } else {
            file_err("ETCDCTL_CERT", cert, e)
        }
    })
}

/// A file's configuration error, reported under the variable naming it.
fn file_err(name: &str, path: &str, e: Error) -> Error {
    match e {
        Error::InvalidConfig(why) => invalid(name, path, &why),
        other => other,
    }
}

/// `ETCDCTL_DISCOVERY_SRV` (the domain), `_SRV_NAME` and
/// `ETCDCTL_INSECURE_DISCOVERY`; secure discovery checks the servers'
/// certificates against the domain, as etcdctl does, so it sets `tls`'s
/// server name.
fn srv_discovery(vars: &Vars<'_>, tls: &mut Option<TlsOptions>) -> Result<Option<SrvDiscovery>> {
    let Some(domain) = vars.get("ETCDCTL_DISCOVERY_SRV")? else {
        if let Some(name) = vars.get("ETCDCTL_DISCOVERY_SRV_NAME")? {
            return Err(invalid(
                "ETCDCTL_DISCOVERY_SRV_NAME",
                &name,
                "needs ETCDCTL_DISCOVERY_SRV (the domain)",
            ));
        }
        // Parsed for the error, even without discovery.
        vars.boolean("ETCDCTL_INSECURE_DISCOVERY", true)?;
        return Ok(None);
    };
    let mut d = SrvDiscovery::new(domain.trim().to_string());
    if d.domain.is_empty() || d.domain.contains(|c: char| c.is_whitespace() || c == '/') {
        return Err(invalid(
            "ETCDCTL_DISCOVERY_SRV",
            &domain,
            "not a domain name",
        ));
    }
    d.service_name = vars.get("ETCDCTL_DISCOVERY_SRV_NAME")?;
    d.insecure = vars.boolean("ETCDCTL_INSECURE_DISCOVERY", true)?;
    if !d.insecure {
        *tls = Some(tls.take().unwrap_or_default().server_name(d.domain.clone()));
    }
    Ok(Some(d))
}

/// `ETCDCTL_USER` is `name` or `name:password`; `ETCDCTL_PASSWORD`, when
/// set, is the password and the user is taken whole (etcdctl's rules).
/// etcdctl prompts for a missing password; a library cannot, so that is
/// an error here. Values are never quoted in errors: they hold passwords.
fn credentials(get: &dyn Fn(&str) -> Result<Option<String>>) -> Result<Option<Credentials>> {
    let Some(user) = get("ETCDCTL_USER")? else {
        if get("ETCDCTL_PASSWORD")?.is_some() {
            return Err(Error::InvalidConfig(
                "ETCDCTL_PASSWORD is set but ETCDCTL_USER is not".into(),
            ));
        }
        return Ok(None);
    };
    let (name, password) = match get("ETCDCTL_PASSWORD")? {
        Some(p) => (user, p),
        None => match user.split_once(':') {
            Some((n, p)) => (n.to_string(), p.to_string()),
            None => {
                return Err(Error::InvalidConfig(format!(
                    "ETCDCTL_USER names user {user:?} without a password (etcdctl would \
                     prompt): use name:password or set ETCDCTL_PASSWORD"
                )))
            }
        },
    };
    if name.is_empty() {
        return Err(Error::InvalidConfig(
            "invalid value for ETCDCTL_USER: empty user name".into(),
        ));
    }
    Ok(Some(Credentials::new(name, password)))
}

/// Go's `strconv.ParseBool`.
pub(crate) fn parse_go_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// Go's `time.ParseDuration` for non-negative durations: a sequence of
/// decimal numbers, each with an optional fraction and a unit (`ns`, `us`,
/// `µs`, `μs`, `ms`, `s`, `m`, `h`), as in `1h2m3.5s`; a lone `0` needs
/// no unit. A leading `+` is allowed; a negative duration is an error
/// (a timeout cannot be negative).
pub(crate) fn parse_go_duration(s: &str) -> std::result::Result<Duration, String> {
    let orig = s;
    let mut s = s;
    if let Some(rest) = s.strip_prefix('-') {
        if rest == "0" {
            return Ok(Duration::ZERO);
        }
        return Err("a negative duration".into());
    }
    if let Some(rest) = s.strip_prefix('+') {
        s = rest;
    }
    if s == "0" {
        return Ok(Duration::ZERO);
    }
    if s.is_empty() {
        return Err("not a duration (examples: 5s, 1m30s, 250ms)".into());
    }
    let bad = || format!("not a duration (examples: 5s, 1m30s, 250ms): {orig:?}");
    let mut total: u128 = 0; // nanoseconds
    while !s.is_empty() {
        let int_len = s.bytes().take_while(u8::is_ascii_digit).count();
        let int = &s[..int_len];
        s = &s[int_len..];
        let mut frac = "";
        if let Some(rest) = s.strip_prefix('.') {
            let n = rest.bytes().take_while(u8::is_ascii_digit).count();
            frac = &rest[..n];
            s = &rest[n..];
        }
        if int.is_empty() && frac.is_empty() {
            return Err(bad());
        }
        let unit_len = s
            .char_indices()
            .find(|&(_, c)| c == '.' || c.is_ascii_digit())
            .map(|(i, _)| i)
            .unwrap_or(s.len());
        let unit: u128 = match &s[..unit_len] {
            "ns" => 1,
            "us" | "\u{b5}s" | "\u{3bc}s" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            "" => return Err(format!("missing unit in duration {orig:?}")),
            u => return Err(format!("unknown unit {u:?} in duration {orig:?}")),
        };
        s = &s[unit_len..];
        let overflow = || format!("duration {orig:?} is too large");
        let int: u128 = if int.is_empty() {
            0
        } else {
            int.parse().map_err(|_| overflow())?
        };
        let mut part = int.checked_mul(unit).ok_or_else(overflow)?;
        // The fraction, truncated to whole nanoseconds as Go does.
        let mut scale = unit;
        for d in frac.bytes() {
            scale /= 10;
            if scale == 0 {
                break;
            }
            part += u128::from(d - b'0') * scale;
        }
        total = total.checked_add(part).ok_or_else(overflow)?;
        // Go's limit: the largest int64 of nanoseconds (~292 years).
        if total > i64::MAX as u128 {
            return Err(overflow());
        }
    }
    Ok(Duration::from_nanos(total as u64))
}

/// Splits one CSV record (what pflag's string slices accept): fields
/// separated by commas, a field in double quotes may hold commas, and `""`
/// inside quotes is one quote.
fn split_csv(s: &str) -> std::result::Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut field = String::new();
    let mut chars = s.chars().peekable();
    let mut at_field_start = true;
    while let Some(c) = chars.next() {
        match c {
            '"' if at_field_start => {
                loop {
                    match chars.next() {
                        Some('"') if chars.peek() == Some(&'"') => {
                            chars.next();
                            field.push('"');
                        }
                        Some('"') => break,
                        Some(c) => field.push(c),
                        None => return Err("unclosed quote".into()),
                    }
                }
                match chars.peek() {
                    None | Some(',') => {}
                    Some(_) => return Err("text after a closing quote".into()),
                }
                at_field_start = false;
            }
            '"' => return Err("bare quote in a field".into()),
            ',' => {
                out.push(std::mem::take(&mut field));
                at_field_start = true;
            }
            '\n' | '\r' => return Err("line break".into()),
            c => {
                field.push(c);
                at_field_start = false;
            }
        }
    }
    out.push(field);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn d(s: &str) -> std::result::Result<Duration, String> {
        parse_go_duration(s)
    }

    #[test]
    fn go_durations() {
        let ms = Duration::from_millis;
        assert_eq!(d("5s"), Ok(ms(5000)));
        assert_eq!(d("1m30s"), Ok(ms(90_000)));
        assert_eq!(d("250ms"), Ok(ms(250)));
        assert_eq!(d("1h2m3s"), Ok(Duration::from_secs(3723)));
        assert_eq!(d("1.5s"), Ok(ms(1500)));
        assert_eq!(d(".5s"), Ok(ms(500)));
        assert_eq!(d("1.s"), Ok(ms(1000)));
        assert_eq!(d("+2s"), Ok(ms(2000)));
        assert_eq!(d("0"), Ok(Duration::ZERO));
        assert_eq!(d("-0"), Ok(Duration::ZERO));
        assert_eq!(d("0s"), Ok(Duration::ZERO));
        assert_eq!(d("10us"), Ok(Duration::from_micros(10)));
        assert_eq!(d("10µs"), Ok(Duration::from_micros(10)));
        assert_eq!(d("10μs"), Ok(Duration::from_micros(10)));
        assert_eq!(d("7ns"), Ok(Duration::from_nanos(7)));
        assert_eq!(d("1.000000001s"), Ok(Duration::new(1, 1)));
        assert_eq!(d("1.0000000019s"), Ok(Duration::new(1, 1)));
        assert_eq!(d("2562047h"), Ok(Duration::from_secs(2562047 * 3600)));
        for bad in [
            "",
            "5",
            "s",
            "5x",
            "5 s",
            " 5s",
            "5s ",
            ".s",
            "-5s",
            "1..5s",
            "5sm",
            "1e3s",
            "2562048h",
            "99999999999999999999999s",
            "--5s",
            "ms5",
        ] {
            assert!(d(bad).is_err(), "{bad:?} should be rejected");
        }
    }

    #[test]
    fn go_bools() {
        for t in ["1", "t", "T", "TRUE", "true", "True"] {
            assert_eq!(parse_go_bool(t), Some(true));
        }
        for f in ["0", "f", "F", "FALSE", "false", "False"] {
            assert_eq!(parse_go_bool(f), Some(false));
        }
        for bad in ["yes", "no", "tRUE", "2", " true"] {
            assert_eq!(parse_go_bool(bad), None);
        }
    }

    #[test]
    fn csv_fields() {
        assert_eq!(split_csv("a,b").unwrap(), ["a", "b"]);
        assert_eq!(split_csv("a, b ,c").unwrap(), ["a", " b ", "c"]);
        assert_eq!(split_csv("\"a,b\",c").unwrap(), ["a,b", "c"]);
        assert_eq!(split_csv("\"a\"\"b\"").unwrap(), ["a\"b"]);
        assert_eq!(split_csv("a,").unwrap(), ["a", ""]);
        assert!(split_csv("\"a").is_err());
        assert!(split_csv("a\"b").is_err());
        assert!(split_csv("\"a\"b").is_err());
    }

    fn cfg(vars: &[(&str, &str)]) -> Result<Config> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        config_from(&|k| Ok(map.get(k).cloned()))
    }

    fn err(vars: &[(&str, &str)]) -> String {
        match cfg(vars) {
            Err(Error::InvalidConfig(m)) => m,
            other => panic!("{vars:?}: expected InvalidConfig, got {other:?}"),
        }
    }

    #[test]
    fn defaults_are_etcdctls() {
        let c = cfg(&[]).unwrap();
        assert_eq!(c.endpoints, ["127.0.0.1:2379"]);
        assert_eq!(c.connect_timeout, Duration::from_secs(2));
        assert_eq!(c.request_timeout, Duration::from_secs(5));
        assert_eq!(c.keepalive_time, Duration::from_secs(10));
        assert_eq!(c.keepalive_timeout, Duration::from_secs(6));
        assert!(c.tls.is_none() && c.credentials.is_none() && c.discovery.is_none());
        // Empty means unset.
        let c = cfg(&[("ETCDCTL_ENDPOINTS", ""), ("ETCDCTL_DIAL_TIMEOUT", "")]).unwrap();
        assert_eq!(c.endpoints, ["127.0.0.1:2379"]);
    }

    #[test]
    fn values_are_read() {
        let c = cfg(&[
            ("ETCDCTL_ENDPOINTS", "10.0.0.1:2379, http://10.0.0.2:2379"),
            ("ETCDCTL_DIAL_TIMEOUT", "3s"),
            ("ETCDCTL_COMMAND_TIMEOUT", "1m30s"),
            ("ETCDCTL_KEEPALIVE_TIME", "20s"),
            ("ETCDCTL_KEEPALIVE_TIMEOUT", "250ms"),
            ("ETCDCTL_USER", "root:pa:ss"),
        ])
        .unwrap();
        assert_eq!(c.endpoints, ["10.0.0.1:2379", "http://10.0.0.2:2379"]);
        assert_eq!(c.connect_timeout, Duration::from_secs(3));
        assert_eq!(c.request_timeout, Duration::from_secs(90));
        assert_eq!(c.keepalive_time, Duration::from_secs(20));
        assert_eq!(c.keepalive_timeout, Duration::from_millis(250));
        let creds = c.credentials.unwrap();
        assert_eq!(creds.user(), "root");
        assert_eq!(creds.password(), "pa:ss");
        // With ETCDCTL_PASSWORD the user is taken whole.
        let c = cfg(&[("ETCDCTL_USER", "a:b"), ("ETCDCTL_PASSWORD", "pw")]).unwrap();
        let creds = c.credentials.unwrap();
        assert_eq!((creds.user(), creds.password()), ("a:b", "pw"));
        // Insecure transport off: TLS with the system roots, and scheme-less
        // endpoints become https.
        let c = cfg(&[
            ("ETCDCTL_INSECURE_TRANSPORT", "false"),
            ("ETCDCTL_ENDPOINTS", "h:1,http://h:2"),
        ])
        .unwrap();
        assert!(c.tls.is_some());
        let dialed: Vec<String> = c
            .parsed_endpoints()
            .unwrap()
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(dialed, ["https://h:1", "http://h:2"]);
        let c = cfg(&[
            ("ETCDCTL_DISCOVERY_SRV", "example.com"),
            ("ETCDCTL_DISCOVERY_SRV_NAME", "prod"),
        ])
        .unwrap();
        let d = c.discovery.unwrap();
        assert_eq!(d.domain, "example.com");
        assert_eq!(d.service_name.as_deref(), Some("prod"));
        assert!(d.insecure && c.tls.is_none());
        let c = cfg(&[
            ("ETCDCTL_DISCOVERY_SRV", "example.com"),
            ("ETCDCTL_INSECURE_DISCOVERY", "0"),
        ])
        .unwrap();
        assert!(!c.discovery.unwrap().insecure);
        assert_eq!(c.tls.unwrap().server_name.as_deref(), Some("example.com"));
    }

    #[test]
    fn malformed_values_name_the_variable_and_value() {
        for (var, value) in [
            ("ETCDCTL_DIAL_TIMEOUT", "5"),
            ("ETCDCTL_COMMAND_TIMEOUT", "soon"),
            ("ETCDCTL_KEEPALIVE_TIME", "-1s"),
            ("ETCDCTL_KEEPALIVE_TIMEOUT", "0s"),
            ("ETCDCTL_INSECURE_TRANSPORT", "yes"),
            ("ETCDCTL_INSECURE_DISCOVERY", "maybe"),
            ("ETCDCTL_ENDPOINTS", "localhost"),
            ("ETCDCTL_ENDPOINTS", "\"a:1"),
            ("ETCDCTL_ENDPOINTS", " , "),
            ("ETCDCTL_CACERT", "/nonexistent/ca.pem"),
            ("ETCDCTL_CERT", "/nonexistent/c.pem"),
            ("ETCDCTL_KEY", "/nonexistent/k.pem"),
            ("ETCDCTL_DISCOVERY_SRV", "a b"),
            ("ETCDCTL_DISCOVERY_SRV_NAME", "x"),
        ] {
            let m = err(&[(var, value)]);
            assert!(m.contains(var), "{var}={value}: {m}");
            assert!(m.contains(&format!("{value:?}")), "{var}={value}: {m}");
        }
    }

    #[test]
    fn passwords_never_appear_in_errors() {
        let m = err(&[("ETCDCTL_USER", ":s3cret")]);
        assert!(m.contains("ETCDCTL_USER") && !m.contains("s3cret"), "{m}");
        let m = err(&[("ETCDCTL_PASSWORD", "s3cret")]);
        assert!(m.contains("ETCDCTL_USER") && !m.contains("s3cret"), "{m}");
        let m = err(&[("ETCDCTL_USER", "root")]);
        assert!(m.contains("ETCDCTL_PASSWORD"), "{m}");
        let m = err(&[
            ("ETCDCTL_USER", "root:s3cret"),
            ("ETCDCTL_DIAL_TIMEOUT", "x"),
        ]);
        assert!(!m.contains("s3cret"), "{m}");
        assert!(!format!("{:?}", cfg(&[("ETCDCTL_USER", "r:s3cret")])).contains("s3cret"));
        let m = err(&[("ETCDCTL_INSECURE_SKIP_TLS_VERIFY", "true")]);
        assert!(m.contains("ETCDCTL_INSECURE_SKIP_TLS_VERIFY"), "{m}");
    }
}
