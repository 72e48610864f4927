//! `db copy`: a single-user SQLite store moved into a new team database.

use super::*;

/// What `db copy` moved.
#[derive(Debug, Clone, PartialEq)]
pub struct CopyReport {
    pub users: usize,
    pub items: usize,
    pub log_rows: usize,
    pub llts: usize,
    pub synonyms: usize,
    pub version: Option<String>,
    /// Item fields copied escaped (control or format characters an older store let in).
    pub escaped: usize,
    /// Anchors of the copied store recorded for `audit verify`.
    pub anchors: usize,
}

/// `medcoder db copy`: moves a single-user SQLite store into a new team database (after `team
/// init`, before any user acts): its users (login roles without a password: each sets one with
/// `team user add --set-password`, or signs in by peer authentication), the active MedDRA
/// version's LLTs, every item as it stands, and its decision log row for row; the team log then
/// chains on from the copied log's last hash. One transaction; the SQLite chain is checked first
/// and both chains after. Run by the server's administrator.
pub fn copy_from_sqlite(client: &mut Client, db: &str, store: &crate::store::Store, origin: &str) -> Result<CopyReport> {
    // One snapshot of the store: a colleague coding during the copy changes nothing of it.
    let _snapshot = store.snapshot()?;
    // A store whose own anchors fail has a rewritten history: it is never moved.
    let anchor_file = store.anchor_file()?;
    let anchors = if anchor_file.exists() { crate::store::audit::read_anchors(&anchor_file)? } else { Vec::new() };
    if let Some(bad) = store.check_anchors(&anchor_file).ok().filter(|_| anchor_file.exists()).and_then(|b| b.into_iter().next()) {
        bail!(
            "{origin}: its anchor file {} does not match its log (line {}, row {}: {}); run `medcoder --db {origin} audit verify` and resolve it before moving it",
            anchor_file.display(),
            bad.line,
            bad.anchored.seq,
            bad.reason
        );
    }
    let mut chain = crate::store::log::Chain::default();
    let entries = store.log_entries(None)?;
    for e in &entries {
        if let Some(Verdict::Broken { seq, reason }) = chain.push(e) {
            bail!("{origin}: its decision log is broken at row {seq} ({reason}); run `medcoder --db {origin} audit verify` and resolve it before moving it");
        }
    }
    if let Verdict::Broken { seq, reason } = store.verify_log()? {
        bail!("{origin}: its decision log is broken at row {seq} ({reason})");
    }
    // The tables must be what the log says: a copy never launders a change made behind the rules.
    let mut findings = store.state_findings()?;
    findings.extend(store.dataset_findings(&entries)?);
    if !findings.is_empty() {
        bail!(
            "{origin}: {} table row(s) differ from its decision log (first: {}); run `medcoder --db {origin} audit verify` and resolve them before moving it",
            findings.len(),
            crate::text::printable(&findings[0])
        );
    }
    let mut tx = client.transaction()?;
    let busy: bool = tx
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM medcoder.item) OR EXISTS (SELECT 1 FROM medcoder.imported_log) OR EXISTS (SELECT 1 FROM medcoder.llt)
                 OR (SELECT seq FROM medcoder.log_head) > 0",
            &[],
        )
        .context("is the target a team database? (run `team init` first)")?
        .get(0);
    if busy {
        bail!("the team database {db} is not new (it has items, a log or a dictionary): copy into a database just made by `team init`");
    }
    let users = store.users()?;
    for u in &users {
        check_user_role(&mut tx, &u.name).with_context(|| format!("{origin}: user '{}' cannot become a database role", crate::text::printable(&u.name)))?;
        // An existing login is somebody's already: the copy would hand them this store's role.
        let taken: bool = tx.query_one("SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)", &[&u.name])?.get(0);
        if taken {
            bail!("{origin}: user '{}' is already a role on this server; the copy makes only new roles (rename the user in the SQLite store, or add them to the team with `team user add` after the copy)", u.name);
        }
    }
    let members = member_role(db);
    for u in &users {
        tx.batch_execute(&format!("CREATE ROLE {} LOGIN", u.name))?;
        tx.batch_execute(&format!("GRANT {members} TO {}", u.name))?;
        tx.execute("INSERT INTO medcoder.app_user VALUES ($1, $2, $3, $4)", &[&u.name, &u.role.as_str(), &u.created_at, &"db copy"])?;
    }
    let mut llts = 0;
    let version = store.active_version()?;
    if version.is_some() {
        let dict = store.active_dictionary()?;
        for l in &dict.llts {
            let pt = dict.pt(l.pt_code).map_or("", |p| p.name.as_str());
            tx.execute(
                "INSERT INTO medcoder.llt VALUES ($1, $2, $3, $4, $5, $6, medcoder.normalize_term($3))",
                &[&dict.version, &(l.code as i32), &l.name, &(l.pt_code as i32), &pt, &l.current],
            )?;
            llts += 1;
        }
        // The release's files as well, from which desks, the engine and `dict` rebuild the whole
        // dictionary (written back in the MedDRA ASCII layout from the store's tables).
        let files = tempfile::tempdir()?;
        crate::meddra::synth::write_ascii(&store.release(&dict.version)?, files.path())?;
        for (name, content) in dictionary::release_files(&files.path().join("MedAscii"))? {
            tx.execute("INSERT INTO medcoder.release_file VALUES ($1, $2, $3)", &[&dict.version, &name, &content])?;
        }
        tx.execute("INSERT INTO medcoder.setting VALUES ('meddra_version', $1), ('sealed:' || $1, medcoder.now_text())", &[&dict.version])?;
    }
    // Text that an older store let in with control or format characters is copied escaped (the
    // team database refuses it raw), and the report says how many fields; the copied log keeps the
    // exact text its hashes cover.
    let mut items = store.items(&crate::store::item::ItemFilter::default())?;
    let mut escaped = 0;
    let mut escape = |v: &mut String| {
        if crate::text::forbidden_char(v).is_some() {
            *v = crate::text::printable(v).into_owned();
            escaped += 1;
        }
    };
    for it in &mut items {
        let r = &mut it.report;
        for v in [&mut r.external_id, &mut r.study, &mut r.subject, &mut r.reported_term] {
            escape(v);
        }
        for v in [&mut r.onset_date, &mut r.seriousness, &mut r.investigator].into_iter().flatten() {
            escape(v);
        }
        if let Some(v) = it.comment.as_mut() {
            escape(v);
        }
    }
    for it in &items {
        tx.execute(
            &format!("INSERT INTO medcoder.item({ITEM_COLUMNS}, term_key) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, medcoder.normalize_term($5))"),
            &[
                &it.id,
                &it.external_id,
                &it.study,
                &it.subject,
                &it.reported_term,
                &it.onset_date,
                &it.seriousness,
                &it.investigator,
                &it.state.as_str(),
                &it.llt_code.map(|c| c as i32),
                &it.pt_code.map(|c| c as i32),
                &it.meddra_version,
                &it.source,
                &it.proposer,
                &it.reviewer,
                &it.comment,
                &it.revision,
                &it.imported_at,
                &it.updated_at,
                &it.updated_by,
                &it.proposed_at,
                &it.confirmed_at,
                &it.part_of,
                &it.part_no.map(|n| n as i32),
            ],
        )?;
    }
    tx.batch_execute("SELECT setval(pg_get_serial_sequence('medcoder.item', 'id'), GREATEST((SELECT max(id) FROM medcoder.item), 1))")?;
    // The synonym list of the active version, as the SQLite audit found it backed by its log.
    let mut synonyms = 0;
    if let Some(v) = &version {
        for y in store.synonyms(v)? {
            tx.execute(
                "INSERT INTO medcoder.synonym VALUES ($1, $2, $3, $4, $5, NULL, $6, $7, $8, $9, $10, $11, $12, nextval('medcoder.synonym_seq'),
                   $13, $14, $15, $16)",
                &[
                    &y.term,
                    &y.meddra_version,
                    &(y.llt_code as i32),
                    &y.origin,
                    &(y.confirmations as i32),
                    &y.external_id,
                    &y.reported_term,
                    &y.proposer,
                    &y.reviewer,
                    &y.updated_at,
                    &y.updated_by,
                    &y.hold,
                    &y.imported_by,
                    // A candidate stays a candidate, and a study's entry stays on its study's list.
                    &y.approval,
                    &y.decided_by,
                    &y.study,
                ],
            )?;
            synonyms += 1;
        }
    }
    // The worklists: who codes or reviews what, and the studies' due dates.
    for a in store.assignments()? {
        tx.execute(
            "INSERT INTO medcoder.assignment VALUES ($1, $2, $3, $4, $5, $6)",
            &[&a.scope.as_str(), &a.key, &a.duty.as_str(), &a.user, &a.assigned_by, &a.assigned_at],
        )?;
    }
    for (study, due) in store.due_dates()? {
        tx.execute("INSERT INTO medcoder.study_due VALUES ($1, $2, 'db copy', medcoder.now_text())", &[&study, &due])?;
    }
    // The datasets received, with their ids: the copied log's rows name them.
    for d in store.datasets()? {
        let (meta, rows) = store.dataset_content(d.id)?;
        tx.execute(
            "INSERT INTO medcoder.dataset VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            &[&d.id, &d.study, &d.domain, &d.file, &d.format, &meta, &(d.records as i32), &d.sha256, &d.received_by, &d.received_at],
        )?;
        let ids = store.dataset_record_ids(d.id)?;
        for (n, (values, ext)) in rows.iter().zip(&ids).enumerate() {
            tx.execute("INSERT INTO medcoder.dataset_record VALUES ($1, $2, $3, $4)", &[&d.id, &(n as i32 + 1), ext, values])?;
        }
    }
    tx.execute(
        "SELECT setval('medcoder.dataset_id_seq', greatest((SELECT max(id) FROM medcoder.dataset), 1), (SELECT count(*) > 0 FROM medcoder.dataset))",
        &[],
    )?;
    for e in &entries {
        let x = &e.entry;
        tx.execute(
            &format!("INSERT INTO medcoder.imported_log({IMPORTED_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22)"),
            &[
                &e.seq,
                &e.at,
                &x.user,
                &x.action,
                &x.item_id,
                &x.external_id,
                &x.reported_term,
                &x.state_from,
                &x.state_to,
                &x.llt_code.map(i64::from),
                &x.llt_name,
                &x.pt_code.map(i64::from),
                &x.pt_name,
                &x.meddra_version,
                &x.model_version,
                &x.proposals,
                &x.entropy,
                &x.chosen_rank,
                &x.source,
                &x.comment,
                &e.prev_hash,
                &e.hash,
            ],
        )?;
    }
    let head = chain.head().map(|(seq, hash)| (seq, hash.to_string()));
    if let Some((_, hash)) = &head {
        tx.execute("UPDATE medcoder.log_head SET hash = $1", &[hash])?;
    }
    // The copied history's anchors come along, so `audit verify` keeps checking the copied log
    // against them; their count and newest head are in the hash-chained 'db copy' row.
    for (line, a) in &anchors {
        tx.execute("INSERT INTO medcoder.copied_anchor VALUES ($1, $2, $3, $4)", &[&(*line as i64), &a.seq, &a.hash, &a.at])?;
    }
    let anchored = match anchors.last() {
        Some((_, a)) => format!("; {} anchor(s) from {}, newest row {} {}", anchors.len(), anchor_file.display(), a.seq, a.hash),
        None => "; no anchors".to_string(),
    };
    let digest = match &version {
        Some(v) => {
            let d: String = tx.query_one("SELECT medcoder.release_digest($1)", &[v])?.get(0);
            format!("; release digest {d}")
        }
        None => String::new(),
    };
    let note = match &head {
        Some((seq, hash)) => format!("from {origin}: {} items, {} users, log rows 1-{seq} (head {hash}){anchored}{digest}", items.len(), users.len()),
        None => format!("from {origin}: {} items, {} users, no log rows{anchored}{digest}", items.len(), users.len()),
    };
    tx.execute("SELECT medcoder.append_log('db copy', NULL, NULL, NULL, NULL, NULL, NULL, NULL, $1::text, NULL, $2::text)", &[&version, &note])?;
    let verdict = verify_in(&mut tx)?;
    if let Some(Verdict::Broken { seq, reason }) = verdict.imported.clone().filter(|v| matches!(v, Verdict::Broken { .. })) {
        bail!("after the copy the copied log does not verify at row {seq} ({reason}); nothing was copied");
    }
    if let Verdict::Broken { seq, reason } = verdict.own {
        bail!("after the copy the team log does not verify at row {seq} ({reason}); nothing was copied");
    }
    tx.commit()?;
    Ok(CopyReport { users: users.len(), items: items.len(), log_rows: entries.len(), llts, synonyms, version, escaped, anchors: anchors.len() })
}
