//! Who is acting, and electronic signatures (issue #11).
//!
//! A medcoder user is bound to an OS login. The process acts as the user bound to the OS account
//! it runs as; naming somebody else (`--user`) needs that person's password, as `su` does.
//! Confirming and returning are signatures: they need the signer's own password (21 CFR Part 11
//! §11.200: at the first signature of a session, and for each signature outside one). Passwords are
//! stored as argon2id hashes and read from the terminal or standard input, never from an argument
//! or the environment. A demo database (created by `medcoder demo`, never switched into later)
//! lets anyone pick any user, without passwords, and says DEMO everywhere.

use std::io::BufRead;
use std::os::unix::fs::MetadataExt;

use anyhow::{anyhow, bail, Context, Result};
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;

use crate::store::Store;

/// The one rule for user names on both stores (a team's are database roles): a lower-case ASCII
/// letter, then lower-case letters, digits and `_`, at most 50. No two names can look alike on
/// screen (no Cyrillic "а" beside a Latin "a", no invisible characters).
pub fn check_name(what: &str, name: &str) -> Result<()> {
    let ok = name.len() <= 50
        && name.chars().next().is_some_and(|c| c.is_ascii_lowercase())
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if !ok {
        bail!("{what} '{}' must start with a lower-case letter and hold only a-z, 0-9 and _ (at most 50)", crate::text::printable(name));
    }
    // The log names the rules' own actor and the model so: a person by such a name (or one that
    // looks like it) would pass for them.
    let reserved = [crate::store::workflow::AUTOCODER, "model"];
    if what.starts_with("user") && reserved.iter().any(|r| skeleton(r) == skeleton(name)) {
        bail!("{what} '{name}' is reserved (the log names the autocoding rules 'autocoder' and the model 'model <version>'): choose another");
    }
    Ok(())
}

/// A name's look-alike skeleton: characters that read alike on a screen folded together (0/o;
/// 1, i, j, l; 5/s; 2/z; 6, 8/b; 9, q/g; u/v; 3/e; 4/a; 7/t; w/vv; m, rn, nn; cl/d) and underscores
/// dropped. Two users never share one.
pub fn skeleton(name: &str) -> String {
    let folded: String = name
        .to_ascii_lowercase()
        .chars()
        .filter(|&c| c != '_')
        .map(|c| match c {
            '0' => 'o',
            '1' | 'i' | 'j' | '|' | '!' => 'l',
            '5' => 's',
            '2' => 'z',
            '6' | '8' => 'b',
            '9' | 'q' => 'g',
            'u' => 'v',
            '3' => 'e',
            '4' => 'a',
            '7' => 't',
            c => c,
        })
        .collect();
    folded.replace('w', "vv").replace('m', "rn").replace("nn", "rn").replace("cl", "d")
}

/// Refuses `name` when it looks like one of `existing` (other than itself).
pub fn check_look_alike<'a>(name: &str, existing: impl IntoIterator<Item = &'a str>) -> Result<()> {
    let key = skeleton(name);
    if let Some(other) = existing.into_iter().find(|o| *o != name && skeleton(o) == key) {
        bail!("user name '{name}' looks like the existing user '{other}' on screen: choose a name that reads differently");
    }
    Ok(())
}

/// Shortest password accepted.
pub const MIN_PASSWORD: usize = 8;

/// The login name of the OS account this process runs as (its real uid, not `$USER`, which
/// anyone can set).
pub fn os_login() -> Result<String> {
    let uid = std::fs::metadata("/proc/self").context("reading /proc/self to find the OS account")?.uid();
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    Ok(passwd
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            (f.len() > 2 && f[2].parse::<u32>().ok() == Some(uid)).then(|| f[0].to_string())
        })
        .next()
        .unwrap_or_else(|| format!("uid{uid}")))
}

pub fn hash_password(password: &str) -> Result<String> {
    if password.chars().count() < MIN_PASSWORD {
        bail!("a password has at least {MIN_PASSWORD} characters");
    }
    let salt = SaltString::generate(&mut OsRng);
    Ok(Argon2::default().hash_password(password.as_bytes(), &salt).map_err(|e| anyhow!("hashing the password: {e}"))?.to_string())
}

pub fn password_matches(hash: &str, password: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|h| Argon2::default().verify_password(password.as_bytes(), &h).is_ok())
}

/// Where passwords come from: the terminal (not echoed), or standard input (`--password-stdin`,
/// one line per password asked, for scripts).
pub struct Passwords {
    stdin: bool,
    /// The user whose password this command already checked, and it: acting as someone and then
    /// signing as them in the same command asks once.
    checked: Option<(String, String)>,
}

impl Passwords {
    pub fn new(stdin: bool) -> Passwords {
        Passwords { stdin, checked: None }
    }

    pub fn from_stdin(&self) -> bool {
        self.stdin
    }

    pub fn read(&mut self, prompt: &str) -> Result<String> {
        let pw = if self.stdin {
            let mut line = String::new();
            std::io::stdin().lock().read_line(&mut line).context("reading a password from standard input")?;
            line.trim_end_matches(['\n', '\r']).to_string()
        } else {
            rpassword::prompt_password(format!("{prompt}: ")).context("reading a password from the terminal (use --password-stdin in scripts)")?
        };
        if pw.is_empty() {
            bail!("no password given");
        }
        Ok(pw)
    }
}

/// Checks `name`'s password for `what` (the action it signs or allows); the error says what to do
/// when there is none. A wrong password is logged, and after `MAX_FAILED_SIGNATURES` in a row the
/// user's password is refused, right or wrong, until an admin unlocks them: guessing is slow and
/// seen.
pub fn check_password(store: &Store, name: &str, password: &str, what: &str) -> Result<()> {
    use crate::store::users::PasswordCheck;
    match store.check_password_counted(name, what, |hash| password_matches(hash, password))? {
        PasswordCheck::Right => Ok(()),
        PasswordCheck::NoPassword => bail!("{name} has no password yet: they set one with `medcoder user passwd` (or an admin does)"),
        PasswordCheck::Locked(n) => {
            bail!("{name} is locked after {n} wrong passwords: an admin lifts it with `medcoder user unlock {name}` (or resets the password)")
        }
        PasswordCheck::Wrong { left: Some(left) } => bail!("wrong password for {name} (logged; {left} more and {name} is locked)"),
        PasswordCheck::Wrong { left: None } => bail!("wrong password for {name}"),
    }
}

/// The medcoder user this process acts as: the one bound to its OS login, or `claimed` when that
/// is the same user, or `claimed` after its password (read from `pw`). None when nobody is claimed
/// and the OS login is bound to no user (read-only commands still work). In a demo database, or
/// before the first user exists, the claim is taken as it is.
pub fn resolve(store: &Store, claimed: Option<&str>, pw: &mut Passwords) -> Result<Option<String>> {
    let claimed = claimed.map(str::trim).filter(|c| !c.is_empty());
    if store.is_demo()? || store.users()?.is_empty() {
        return Ok(claimed.map(|c| store.user(c).map(|u| u.name).unwrap_or_else(|_| c.to_string())));
    }
    let login = os_login()?;
    let bound = store.user_by_login(&login)?;
    let Some(claimed) = claimed else { return Ok(bound.map(|u| u.name)) };
    let user = store.user(claimed)?;
    if bound.as_ref().is_some_and(|b| b.name == user.name) {
        return Ok(Some(user.name));
    }
    // Acting as somebody else: their password, as `su` asks.
    let password = pw.read(&format!("Password for {} (you are OS user {login})", user.name))?;
    check_password(store, &user.name, &password, "acting as them").with_context(|| format!("acting as {}", user.name))?;
    pw.checked = Some((user.name.clone(), password));
    Ok(Some(user.name))
}

/// An electronic signature by `name` (confirming or returning a code): their own password.
/// Nothing to sign in a demo database.
pub fn sign(store: &Store, name: &str, pw: &mut Passwords) -> Result<()> {
    if store.is_demo()? {
        return Ok(());
    }
    let password = match pw.checked.take() {
        Some((who, password)) if who == name => password,
        _ => pw.read(&format!("Password for {name} (electronic signature)"))?,
    };
    check_password(store, name, &password, "signature").context("the signature was refused")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_hash_with_a_salt_and_verify() {
        let a = hash_password("correct horse").unwrap();
        let b = hash_password("correct horse").unwrap();
        assert_ne!(a, b, "salted");
        assert!(a.starts_with("$argon2id$"));
        assert!(password_matches(&a, "correct horse"));
        assert!(!password_matches(&a, "correct hors"));
        assert!(!password_matches("not a hash", "x"));
        assert!(hash_password("short").is_err());
    }

    #[test]
    fn user_names_follow_one_ascii_rule() {
        assert!(check_name("user", "bob_2").is_ok());
        for bad in ["\u{430}dmin", "Bob", "2bob", "bo b", "bob-x", "", "b\u{200b}ob", &"a".repeat(51)] {
            assert!(check_name("user", bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn look_alike_names_share_a_skeleton() {
        for (a, b) in [
            ("admin", "adrnin"),
            ("carol", "caro1"),
            ("bob", "b0b"),
            ("alice", "alice_"),
            ("will", "vvill"),
            ("lisa", "1isa"),
            ("greg", "qreg"),
            ("greg", "gre9"),
            ("bob", "bo6"),
            ("mike", "nnike"),
            ("ruth", "rvth"),
            ("eve", "eue"),
            ("jim", "iim"),
        ] {
            assert!(check_look_alike(b, [a]).is_err(), "{a} ~ {b}");
        }
        assert!(check_look_alike("carl", ["carol", "bob"]).is_ok());
        assert!(check_look_alike("bob", ["bob"]).is_ok(), "a user is not a look-alike of itself");
    }

    #[test]
    fn the_os_login_is_read_from_the_uid() {
        let login = os_login().unwrap();
        assert!(!login.is_empty() && !login.contains(':'));
    }
}
