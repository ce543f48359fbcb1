//! `snapshot save`: the Maintenance service's snapshot, to a file.

use std::io::{IsTerminal, Write};
use std::time::Duration;

use clap::Subcommand;
use indicatif::{ProgressBar, ProgressStyle};

use crate::exit::{bad_args, Exit, Fail, Res};
use crate::global::{connect, written_endpoints};
use crate::output::line;

#[derive(Subcommand)]
pub enum SnapshotCommand {
    /// Stores an etcd node backend snapshot to a given file
    Save {
        /// filename
        args: Vec<String>,
    },
}

pub fn snapshot(cmd: SnapshotCommand, out: &mut impl Write) -> Res {
    match cmd {
        SnapshotCommand::Save { args } => match args.as_slice() {
            [path] => save(path, out),
            _ => Err(bad_args("snapshot save expects one argument")),
        },
    }
}

fn save(path: &str, out: &mut impl Write) -> Res {
    let eps = written_endpoints();
    if eps.len() != 1 {
        return Err(bad_args(format!(
            "snapshot must be requested to one selected node, not multiple {eps:?}"
        )));
    }
    let client = connect()?;
    // A snapshot streams for as long as it takes.
    let long = client.with_timeout(Duration::from_secs(3600));
    let io = |e: std::io::Error| Fail::new(Exit::Error, e.to_string());
    // Written aside and renamed when complete: no half snapshot at `path`.
    let tmp = format!("{path}.part");
    let file = std::fs::File::create(&tmp).map_err(io)?;
    let bar = progress_bar();
    let mut writer = std::io::BufWriter::new(file);
    let r = long.snapshot_to(&mut writer, |got, _| {
        if let Some(b) = &bar {
            b.set_position(got);
        }
    });
    let flushed = writer.flush();
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    if let Err(e) = r {
        let _ = std::fs::remove_file(&tmp);
        return Err(e.into());
    }
    flushed.map_err(io)?;
    std::fs::rename(&tmp, path).map_err(io)?;
    line(out, &format!("Snapshot saved at {path}"));
    Ok(())
}

/// A spinner with the bytes received, on a terminal only.
fn progress_bar() -> Option<ProgressBar> {
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let b = ProgressBar::new_spinner();
    let style = ProgressStyle::with_template("{spinner} {bytes} received ({bytes_per_sec})")
        .expect("a valid template");
    b.set_style(style);
    Some(b)
}
