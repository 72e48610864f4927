//! Identity is authenticated, not claimed (issue #11): the process acts as the user bound to its
//! OS login; naming somebody else needs their password; confirming and returning are signatures
//! with the signer's own password; a demo database picks users without passwords and says so.

mod common;
use common::*;
use std::fs;

/// admin is bound to this OS login (the first user); alice and bob are bound to logins of their
/// own names, with passwords.
fn setup() -> Env {
    let env = Env::new();
    env.ok(&["dict", "import", s(&demo_dir())]);
    env.add_users(&[("alice", "coder"), ("bob", "reviewer")]);
    let q = env.dir.path().join("q.csv");
    fs::write(&q, "id,study,subject,reported_term\nX1,ST1,001,sore leg\nX2,ST1,002,hedache\n").unwrap();
    env.ok(&["--user", "alice", "queue", "import", s(&q)]);
    env.ok(&["--user", "alice", "code", "X1", &llt_code("Leg pain")]);
    env
}

#[test]
fn without_user_the_process_acts_as_its_os_login() {
    let env = setup();
    let users = env.ok(&["user", "list"]);
    // The first user is bound to the OS login that set medcoder up (this test's).
    let login = users.lines().find(|l| l.starts_with("admin")).unwrap().split_whitespace().nth(3).unwrap().to_string();
    assert_eq!(login, medcoder::identity::os_login().unwrap(), "{users}");
    // No --user: the OS login's user (admin) acts, and the log says so.
    let (_, out, err) = env.run_with_input(&["settings", "autocode-confirm", "on"], None);
    assert!(out.contains("autocode-confirm set to on"), "{out}{err}");
    assert!(env.ok(&["audit", "log"]).lines().any(|l| l.contains(" admin ") && l.contains("setting")));
}

#[test]
fn naming_somebody_else_needs_their_password() {
    let env = setup();
    // The attack of the issue: claim to be bob and confirm alice's code.
    let (ok, _, err) = env.run_with_input(&["--user", "bob", "confirm", "X1"], Some("guess-guess\n"));
    assert!(!ok && err.contains("acting as bob") && err.contains("wrong password for bob"), "{err}");
    // Without a terminal and without --password-stdin there is no way to give it.
    let (ok, _, err) = env.run_with_input(&["--user", "bob", "confirm", "X1"], None);
    assert!(!ok && err.contains("reading a password from the terminal"), "{err}");
    // Creating an admin by claiming to be admin is the same: admin is bound to this login, so
    // claim another admin-capable name instead.
    let (ok, _, err) = env.run_with_input(&["--user", "alice", "user", "add", "eve", "--role", "admin"], Some("wrong-wrong\n"));
    assert!(!ok && err.contains("wrong password for alice"), "{err}");
    assert!(!env.ok(&["user", "list"]).contains("eve"));
    // A user without a password can act only from their own login.
    env.ok(&["--user", "admin", "user", "add", "nopw", "--role", "coder"]);
    let (ok, _, err) = env.run_with_input(&["--user", "nopw", "code", "X2", &llt_code("Headache")], Some("anything-at-all\n"));
    assert!(!ok && err.contains("nopw has no password yet"), "{err}");
    // The right password works, and the log records the real name.
    let (ok, out, err) = env.run_with_input(&["--user", "bob", "confirm", "X1"], Some(&format!("{}\n", password("bob"))));
    assert!(ok, "{out}{err}");
    assert!(env.ok(&["audit", "log"]).lines().any(|l| l.contains(" bob ") && l.contains("confirm")));
}

#[test]
fn a_signature_needs_the_signers_own_password_every_time() {
    let env = setup();
    env.ok(&["--user", "alice", "code", "X2", &llt_code("Headache")]);
    // admin acts from its own login without a password, but signing needs one.
    let (ok, _, err) = env.run_with_input(&["confirm", "X1"], Some("not-admins-password\n"));
    assert!(!ok && err.contains("the signature was refused") && err.contains("wrong password for admin"), "{err}");
    let (ok, _, err) = env.run_with_input(&["return", "X2", "--comment", "no"], Some("\n"));
    assert!(!ok && err.contains("no password given"), "{err}");
    let (ok, out, err) = env.run_with_input(&["confirm", "X1"], Some(&format!("{}\n", password("admin"))));
    assert!(ok, "{out}{err}");
    // Nothing was confirmed or returned by the refused attempts.
    let log = env.ok(&["audit", "log"]);
    assert_eq!(log.lines().filter(|l| l.contains("confirm") || l.contains("return")).count(), 1, "{log}");
}

#[test]
fn passwords_are_hashed_changed_by_their_owner_and_reset_only_by_an_admin() {
    let env = setup();
    let c = rusqlite::Connection::open(env.db()).unwrap();
    let hash: String = c.query_row("SELECT password_hash FROM user WHERE name = 'alice'", [], |r| r.get(0)).unwrap();
    assert!(hash.starts_with("$argon2id$") && !hash.contains(&password("alice")), "{hash}");
    drop(c);
    // alice cannot reset bob's password (she would then sign as him).
    let (ok, _, err) = env.run_with_input(&["--user", "alice", "user", "passwd", "bob"], Some(&format!("{}\nnew-bob-secret\n", password("alice"))));
    assert!(!ok && err.contains("only an admin sets another user's password"), "{err}");
    // A password written into the table behind medcoder's back is found by the audit.
    let c = rusqlite::Connection::open(env.db()).unwrap();
    c.execute("UPDATE user SET password_hash = (SELECT password_hash FROM user WHERE name = 'alice') WHERE name = 'bob'", []).unwrap();
    drop(c);
    let (ok, out, _) = env.run(&["audit", "verify"]);
    assert!(!ok && out.contains("user bob: the password was set without a log row"), "{out}");
}

#[test]
fn an_unbound_login_must_name_a_user() {
    let env = Env::new();
    env.ok(&["dict", "import", s(&demo_dir())]);
    env.ok(&["user", "add", "root_admin", "--role", "admin", "--login", "somebody-else"]);
    let (ok, _, err) = env.run_with_input(&["settings", "autocode-confirm", "on"], None);
    assert!(!ok && err.contains("no medcoder user is bound to your OS login"), "{err}");
    // Read-only commands still work.
    assert!(env.ok(&["user", "list"]).contains("root_admin"));
}

#[test]
fn a_demo_database_picks_users_and_says_demo_but_a_real_one_never_becomes_a_demo() {
    let env = Env::new();
    let (ok, out, err) = env.run(&["demo", "--print"]);
    assert!(ok, "{out}{err}");
    // Any demo user, no password, and DEMO on every command.
    let (ok, out, err) = env.run_with_input(&["--user", "bob", "queue", "list"], None);
    assert!(ok && err.contains("DEMO database"), "{out}{err}");
    let real = setup();
    let (ok, _, err) = real.run(&["demo", "--print"]);
    assert!(!ok && err.contains("is not a demo database"), "{err}");
    // Setting the mark behind medcoder's back is found by the audit.
    let c = rusqlite::Connection::open(real.db()).unwrap();
    c.execute("INSERT INTO setting(key, value) VALUES ('demo_mode', 'on')", []).unwrap();
    drop(c);
    let (ok, out, _) = real.run(&["audit", "verify"]);
    assert!(!ok && out.contains("demo mode is on, the log says off"), "{out}");
}

/// An unlocked terminal is not enough to take over a signature: changing one's own password asks
/// for the current one (found by an attack on this build).
#[test]
fn changing_ones_own_password_needs_the_current_one() {
    let env = setup();
    // admin is this OS login's user: no --user, so no password was asked to act.
    let (ok, _, err) = env.run_with_input(&["user", "passwd"], Some("hijacked99\nhijacked99\n"));
    assert!(!ok && err.contains("wrong password for admin"), "{err}");
    let (ok, _, err) = env.run_with_input(&["confirm", "X1"], Some("hijacked99\n"));
    assert!(!ok && err.contains("wrong password for admin"), "{err}");
    let (ok, out, err) = env.run_with_input(&["user", "passwd"], Some(&format!("{}\nnew-admin-pw\n", password("admin"))));
    assert!(ok, "{out}{err}");
    let (ok, out, err) = env.run_with_input(&["confirm", "X1"], Some("new-admin-pw\n"));
    assert!(ok, "{out}{err}");
}
