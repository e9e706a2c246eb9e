//! Failed sign-ins are limited per account and per address, so that
//! passwords cannot be guessed quickly from one place or against one
//! account from many. Only failures count; a success clears the account's.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Failures allowed per account in a window.
pub const ACCOUNT_FAILURES: u32 = 5;
/// Failures allowed per address in a window (an office shares one).
pub const ADDRESS_FAILURES: u32 = 20;
/// The window: after it, the count starts again.
pub const WINDOW: Duration = Duration::from_secs(15 * 60);
/// Entries kept before old windows are swept (bounds memory under a flood
/// of made-up emails).
const MAX_ENTRIES: usize = 10_000;

/// Failure counts in fixed windows.
#[derive(Debug, Default)]
pub struct SignInThrottle {
    accounts: Mutex<HashMap<String, Window>>,
    addresses: Mutex<HashMap<IpAddr, Window>>,
}

#[derive(Debug, Clone, Copy)]
struct Window {
    started: Instant,
    failures: u32,
}

impl SignInThrottle {
    /// `Err(seconds to wait)` when either the account or the address has
    /// used up its failures.
    pub fn check(&self, email: &str, address: Option<IpAddr>, now: Instant) -> Result<(), u64> {
        let account = blocked(&self.accounts, email, ACCOUNT_FAILURES, now);
        let address = address.and_then(|a| blocked(&self.addresses, &a, ADDRESS_FAILURES, now));
        match account.max(address) {
            Some(wait) => Err(wait.as_secs().max(1)),
            None => Ok(()),
        }
    }

    /// Counts a failed sign-in.
    pub fn failed(&self, email: &str, address: Option<IpAddr>, now: Instant) {
        count(&self.accounts, email.to_owned(), now);
        if let Some(address) = address {
            count(&self.addresses, address, now);
        }
    }

    /// Clears an account's failures after it signed in.
    pub fn succeeded(&self, email: &str) {
        if let Ok(mut accounts) = self.accounts.lock() {
            accounts.remove(email);
        }
    }
}

/// How long `key` must wait, if it is over `limit` in its current window.
fn blocked<K, Q>(
    map: &Mutex<HashMap<K, Window>>,
    key: &Q,
    limit: u32,
    now: Instant,
) -> Option<Duration>
where
    K: std::borrow::Borrow<Q> + std::hash::Hash + Eq,
    Q: std::hash::Hash + Eq + ?Sized,
{
    let map = map.lock().ok()?;
    let window = map.get(key)?;
    let ends = window.started.checked_add(WINDOW)?;
    (window.failures >= limit && now < ends).then(|| ends.saturating_duration_since(now))
}

fn count<K: std::hash::Hash + Eq>(map: &Mutex<HashMap<K, Window>>, key: K, now: Instant) {
    let Ok(mut map) = map.lock() else {
        return;
    };
    if map.len() >= MAX_ENTRIES {
        map.retain(|_, w| now.duration_since(w.started) < WINDOW);
    }
    let window = map.entry(key).or_insert(Window {
        started: now,
        failures: 0,
    });
    if now.duration_since(window.started) >= WINDOW {
        *window = Window {
            started: now,
            failures: 0,
        };
    }
    window.failures = window.failures.saturating_add(1);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_account_is_blocked_after_its_failures_until_the_window_ends() {
        let throttle = SignInThrottle::default();
        let start = Instant::now();
        for _ in 0..ACCOUNT_FAILURES {
            assert!(throttle.check("a@x", None, start).is_ok());
            throttle.failed("a@x", None, start);
        }
        let wait = throttle.check("a@x", None, start);
        assert_eq!(wait, Err(WINDOW.as_secs()));
        assert!(
            throttle.check("b@x", None, start).is_ok(),
            "other accounts are not blocked"
        );
        assert!(
            throttle.check("a@x", None, start + WINDOW).is_ok(),
            "the window ends"
        );
    }

    #[test]
    fn an_address_is_blocked_across_accounts_and_success_clears_only_the_account() {
        let throttle = SignInThrottle::default();
        let now = Instant::now();
        let address = Some(IpAddr::from([192, 0, 2, 1]));
        for i in 0..ADDRESS_FAILURES {
            throttle.failed(&format!("user{i}@x"), address, now);
        }
        assert!(throttle.check("new@x", address, now).is_err());
        assert!(
            throttle
                .check("new@x", Some(IpAddr::from([192, 0, 2, 2])), now)
                .is_ok()
        );
        throttle.succeeded("user0@x");
        assert!(throttle.check("new@x", address, now).is_err());
    }
}
