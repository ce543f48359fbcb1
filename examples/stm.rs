//! Software transactional memory: transfers between bank accounts from
//! several threads, each a closure that reads and writes keys as if it
//! were alone. Conflicting transfers run again; the total never changes.
//!
//! Runs against `ETCD_ENDPOINTS` when it is set, else a throwaway etcd.
//!
//!     cargo run --example stm

mod support;

use std::thread;

use etcd_blocking::concurrency::{stm, Stm};
use etcd_blocking::{Client, Error, GetOptions};

const ACCOUNTS: usize = 5;

fn account(i: usize) -> String {
    format!("examples/stm/account/{i}")
}

fn balance(s: &mut Stm, key: &str) -> Result<i64, Error> {
    Ok(s.get_str(key)?.map_or(0, |v| v.parse().unwrap_or(0)))
}

/// Why a transfer did not happen: the user's own error type, which the
/// closure returns to abort (nothing is written).
#[derive(Debug)]
enum TransferError {
    Insufficient { balance: i64, amount: i64 },
    Etcd(Error),
}

impl From<Error> for TransferError {
    fn from(e: Error) -> Self {
        TransferError::Etcd(e)
    }
}

fn main() -> Result<(), Error> {
    let etcd = support::etcd();
    let client = Client::connect(&etcd.endpoints)?;
    for i in 0..ACCOUNTS {
        client.put(account(i), "100")?;
    }

    let threads: Vec<_> = (0..4)
        .map(|t| {
            let client = client.clone();
            thread::spawn(move || {
                let (mut done, mut retries, mut refused) = (0, 0, 0);
                for n in 0..50 {
                    let from = account((t + n) % ACCOUNTS);
                    // Never the same account: its two writes would be one.
                    let to = account((t + n + 1 + n % (ACCOUNTS - 1)) % ACCOUNTS);
                    let amount = (7 * n as i64 + 3 * t as i64) % 40 + 1;
                    let result = stm(&client, |s| {
                        let a = balance(s, &from)?;
                        if a < amount {
                            return Err(TransferError::Insufficient { balance: a, amount });
                        }
                        let b = balance(s, &to)?;
                        s.put(from.clone(), (a - amount).to_string());
                        s.put(to.clone(), (b + amount).to_string());
                        Ok(())
                    });
                    match result {
                        Ok(c) => {
                            done += 1;
                            retries += c.retries();
                        }
                        Err(TransferError::Insufficient { balance, amount }) => {
                            refused += 1;
                            if refused == 1 {
                                println!(
                                    "thread {t}: refused {amount} from a balance of {balance}"
                                );
                            }
                        }
                        Err(TransferError::Etcd(e)) => return Err(e),
                    }
                }
                println!("thread {t}: {done} transfers ({retries} retries), {refused} refused");
                Ok(())
            })
        })
        .collect();
    for t in threads {
        t.join().expect("thread panicked")?;
    }

    let resp = client.get_with("examples/stm/account/", GetOptions::new().prefix())?;
    let mut total = 0;
    for kv in resp.kvs() {
        let v: i64 = kv.value_str()?.parse().unwrap_or(0);
        println!("{} = {v}", kv.key_str()?);
        total += v;
    }
    println!("total: {total} (started with {})", 100 * ACCOUNTS);
    assert_eq!(total, 100 * ACCOUNTS as i64);
    client.close()
}
