//! Team users: login roles checked for powers, added with a SCRAM verifier; one's own password.

use super::*;
use postgres::config::Host;

/// A login role may become a medcoder user only if it is an ordinary login: never one of the
/// database's own group roles, a NOLOGIN role, or a role with powers over the server (a
/// superuser, or one that can create roles or databases, replicate or bypass row security).
pub(super) fn check_user_role(client: &mut impl postgres::GenericClient, name: &str) -> Result<()> {
    check_name("user name", name)?;
    if name.ends_with("_owner") || name.ends_with("_members") {
        bail!("'{name}': names ending in _owner or _members are the team databases' own roles");
    }
    let row = client.query_opt(
        "SELECT rolcanlogin, rolsuper OR rolcreaterole OR rolcreatedb OR rolreplication OR rolbypassrls FROM pg_roles WHERE rolname = $1",
        &[&name],
    )?;
    if let Some(r) = row {
        let (login, powers): (bool, bool) = (r.get(0), r.get(1));
        if powers {
            bail!("'{name}' is a role with powers over the server (superuser, create role or database, replication): it cannot be a medcoder user");
        }
        if !login {
            bail!("'{name}' is an existing group role (NOLOGIN), not a person's login: choose another name");
        }
    }
    Ok(())
}

/// `medcoder team user add`: a login role for NAME (with a SCRAM password when one is given, else
/// peer authentication only), member of the database's member role, and its medcoder role; logged.
/// Run by the server's administrator; run again it changes the role (and password).
pub fn add_user(client: &mut Client, db: &str, name: &str, role: &str, password: Option<&str>) -> Result<()> {
    check_user_role(client, name)?;
    if !["coder", "reviewer", "admin", "service"].contains(&role) {
        bail!("role must be coder, reviewer, admin or service (the proposal service's account)");
    }
    let names: Vec<String> = client.query("SELECT name FROM medcoder.app_user", &[])?.iter().map(|r| r.get(0)).collect();
    crate::identity::check_look_alike(name, names.iter().map(String::as_str))?;
    let members = member_role(db);
    let there: bool = client.query_one("SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)", &[&name])?.get(0);
    let verb = if there { "ALTER" } else { "CREATE" };
    // The server gets the SCRAM verifier, never the password itself (which a statement log would
    // keep); format(%L) quotes it as the server parses it.
    let sql: String = match password {
        Some(pw) => {
            let verifier = postgres_protocol::password::scram_sha_256(pw.as_bytes());
            client.query_one(&format!("SELECT format('{verb} ROLE %I LOGIN PASSWORD %L', $1::text, $2::text)"), &[&name, &verifier])?.get(0)
        }
        None => format!("{verb} ROLE {name} LOGIN"),
    };
    let mut tx = client.transaction()?;
    tx.batch_execute(&sql)?;
    tx.batch_execute(&format!("GRANT {members} TO {name}"))?;
    tx.execute("SELECT medcoder.register_user($1, $2)", &[&name, &role])?;
    tx.commit()?;
    Ok(())
}

impl TeamStore {
    /// Changes the connection's own login password (PostgreSQL lets a role do so); the server gets
    /// the SCRAM verifier only.
    pub fn set_own_password(&mut self, password: &str) -> Result<()> {
        let verifier = postgres_protocol::password::scram_sha_256(password.as_bytes());
        let sql: String = self.client.query_one("SELECT format('ALTER ROLE %I PASSWORD %L', session_user, $1::text)", &[&verifier])?.get(0);
        self.client.batch_execute(&sql).map_err(db_error)
    }

    /// The users of this team database.
    pub fn users(&mut self) -> Result<Vec<(String, String, String)>> {
        let rows = self.client.query("SELECT name, role, created_at FROM medcoder.app_user ORDER BY name", &[])?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1), r.get(2))).collect())
    }
}

/// A signature: the server accepts the user's password on a new connection over TCP (a
/// local-socket connection may be trusted by peer authentication without one).
pub(super) fn check_password(url: &str, user: &str, password: &str) -> Result<()> {
    let url: Config = url.parse()?;
    // Only the TCP hosts (else this machine's): a socket in the list would be tried first and may
    // trust the login without the password.
    let mut config = Config::new();
    let tcp: Vec<String> = url.get_hosts().iter().filter_map(|h| if let Host::Tcp(t) = h { Some(t.clone()) } else { None }).collect();
    for h in if tcp.is_empty() { vec!["127.0.0.1".to_string()] } else { tcp } {
        config.host(&h);
    }
    config.port(url.get_ports().first().copied().unwrap_or(5432));
    if let Some(db) = url.get_dbname() {
        config.dbname(db);
    }
    config.user(user).password(password);
    let mut c = config
        .connect(NoTls)
        .map_err(|e| anyhow!("{}", e.as_db_error().map(|d| d.message().to_string()).unwrap_or_else(|| e.to_string())))
        .with_context(|| format!("signing as {user}: the server did not accept the password"))?;
    let who: String = c.query_one("SELECT session_user::text", &[])?.get(0);
    if who != user {
        bail!("signing as {user}: the server says this is {who}");
    }
    Ok(())
}
