//! `medcoder report productivity|turnaround|consistency|queries`: the team's reports, as text,
//! JSON or a chart.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Args, ValueEnum};

use super::session::Session;
use crate::charts::{self, Axes};
use crate::report::{self, fmt_hours, Window};
use crate::store::item::ItemFilter;
use crate::text::printable as p;

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum ReportKind {
    /// Items coded and reviewed per person and day.
    Productivity,
    /// Import to confirmation, and the open work by age.
    Turnaround,
    /// The same term (its synonym key) confirmed to different PTs.
    Consistency,
    /// Queries to sites: asked, answered, closed, and the open ones by age.
    Queries,
}

#[derive(Args, Debug)]
pub struct ReportArgs {
    pub kind: ReportKind,
    /// Only this study.
    #[arg(long)]
    pub study: Option<String>,
    /// From this day (YYYY-MM-DD, UTC).
    #[arg(long)]
    pub from: Option<String>,
    /// To this day, inclusive.
    #[arg(long)]
    pub to: Option<String>,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Also draw the report as an SVG chart.
    #[arg(long, value_name = "FILE")]
    pub plot: Option<PathBuf>,
}

fn write_plot(file: &PathBuf, svg: String) -> Result<()> {
    std::fs::write(file, svg).with_context(|| format!("writing the chart {}", file.display()))?;
    eprintln!("Chart written to {}", p(&file.display().to_string()));
    Ok(())
}

pub fn run(args: ReportArgs, s: &mut Session) -> Result<ExitCode> {
    let w = Window::new(args.study.clone(), args.from.clone(), args.to.clone())?;
    if let Some(p) = &args.plot {
        if p.extension().and_then(|e| e.to_str()).is_none_or(|e| !e.eq_ignore_ascii_case("svg")) {
            anyhow::bail!("{}: the chart is written as SVG; name the file *.svg", p.display());
        }
    }
    let store = s.store()?;
    let items = store.items(&ItemFilter::default())?;
    let now = crate::store::now();
    match args.kind {
        ReportKind::Productivity => {
            let days = report::productivity(&store.log_entries(None)?, &items, &w);
            let people = report::per_person(&days);
            if args.json {
                println!("{}", serde_json::to_string_pretty(&serde_json::json!({ "window": w.describe(), "days": days, "people": people }))?);
            } else {
                println!("Productivity, {}: codes proposed and reviewed per person (rule and model-first codes are nobody's)", w.describe());
                println!("  {:<10} {:<16} {:>6} {:>9} {:>8} {:>7}", "day", "user", "coded", "confirmed", "returned", "queried");
                for d in days.iter().chain(people.iter()) {
                    println!("  {:<10} {:<16} {:>6} {:>9} {:>8} {:>7}", d.day, p(&d.user), d.coded, d.confirmed, d.returned, d.queried);
                }
                if days.is_empty() {
                    println!("  (no decision in this window)");
                }
            }
            if let Some(file) = &args.plot {
                let labels: Vec<String> = people.iter().map(|d| d.user.clone()).collect();
                let axes = Axes { title: &format!("Work per person, {}", w.describe()), x: "person", y: "items", labels: &labels };
                let series = [
                    ("coded", people.iter().map(|d| d.coded as f64).collect()),
                    ("confirmed", people.iter().map(|d| d.confirmed as f64).collect()),
                    ("returned", people.iter().map(|d| d.returned as f64).collect()),
                ];
                write_plot(file, charts::bars(&axes, &series)?)?;
            }
        }
        ReportKind::Turnaround => {
            let t = report::turnaround(&items, &w, &now);
            if args.json {
                println!("{}", serde_json::to_string_pretty(&t)?);
            } else {
                println!("Turnaround, {}: import to confirmation", w.describe());
                println!(
                    "  {} confirmed · median {} · 90th percentile {} · mean {}",
                    t.confirmed,
                    fmt_hours(t.median_hours),
                    fmt_hours(t.p90_hours),
                    fmt_hours(t.mean_hours)
                );
                for (study, n, median) in &t.by_study {
                    println!("  {:<16} {n:>6} confirmed, median {}", p(study), fmt_hours(Some(*median)));
                }
                println!("Open work by age since import:");
                for (bracket, states) in &t.open_by_age {
                    let total: usize = states.values().sum();
                    let parts: Vec<String> = states.iter().map(|(s, n)| format!("{s} {n}")).collect();
                    println!("  {bracket:<13} {total:>6}  {}", parts.join(", "));
                }
            }
            if let Some(file) = &args.plot {
                let buckets = ["<1 day", "1-2 days", "2-7 days", "1-4 weeks", ">4 weeks"];
                let mut counts = [0f64; 5];
                for h in &t.hours {
                    let d = h / 24.0;
                    counts[if d < 1.0 {
                        0
                    } else if d < 2.0 {
                        1
                    } else if d < 7.0 {
                        2
                    } else if d < 28.0 {
                        3
                    } else {
                        4
                    }] += 1.0;
                }
                let labels: Vec<String> = buckets.iter().map(|s| s.to_string()).collect();
                let axes = Axes { title: &format!("Import to confirmation, {}", w.describe()), x: "time to confirmation", y: "items", labels: &labels };
                write_plot(file, charts::bars(&axes, &[("confirmed items", counts.to_vec())])?)?;
            }
        }
        ReportKind::Consistency => {
            let dict = store.active_dictionary()?;
            let list = report::consistency(&items, Some(&dict), &store.synonym_qualifiers()?, &w);
            if args.json {
                println!("{}", serde_json::to_string_pretty(&list)?);
            } else if list.is_empty() {
                println!("Consistency, {}: no term is confirmed to more than one PT.", w.describe());
            } else {
                println!("Consistency, {}: {} term(s) confirmed to more than one PT (by synonym key)", w.describe(), list.len());
                for c in &list {
                    println!("  {}  (written: {})", p(&c.key), p(&c.spellings.join(" | ")));
                    for (pt, name, n, ids) in &c.pts {
                        let shown: Vec<&str> = ids.iter().take(5).map(String::as_str).collect();
                        let more = if ids.len() > 5 { format!(" and {} more", ids.len() - 5) } else { String::new() };
                        println!("    PT {pt:>9} {:<36} {n:>4} item(s): {}{more}", p(name), p(&shown.join(", ")));
                    }
                }
            }
            if let Some(file) = &args.plot {
                let top: Vec<_> = list.iter().take(12).collect();
                let labels: Vec<String> = top.iter().map(|c| crate::text::truncate(&c.key, 18)).collect();
                let axes = Axes { title: &format!("Terms confirmed to more than one PT, {}", w.describe()), x: "term", y: "items", labels: &labels };
                let most: Vec<f64> = top.iter().map(|c| c.pts[0].2 as f64).collect();
                let rest: Vec<f64> = top.iter().map(|c| c.pts[1..].iter().map(|p| p.2).sum::<usize>() as f64).collect();
                write_plot(file, charts::bars(&axes, &[("its most frequent PT", most), ("other PTs", rest)])?)?;
            }
        }
        ReportKind::Queries => {
            let q = report::queries(&store.log_entries(None)?, &items, &w, &now);
            if args.json {
                println!("{}", serde_json::to_string_pretty(&q)?);
            } else {
                println!("Queries to sites, {}:", w.describe());
                println!(
                    "  {} asked · {} answered · {} closed by hand · median {} to an answer",
                    q.asked,
                    q.answered,
                    q.closed,
                    q.median_days_to_answer.map_or("-".to_string(), |d| format!("{d:.1} days"))
                );
                for (study, asked, answered) in &q.by_study {
                    println!("  {:<16} {asked:>5} asked, {answered:>5} answered", p(study));
                }
                println!("Open queries by days since asked:");
                for (bracket, n) in &q.open_by_age {
                    println!("  {bracket:<13} {n:>6}");
                }
            }
            if let Some(file) = &args.plot {
                let labels: Vec<String> = q.open_by_age.iter().map(|(b, _)| b.clone()).collect();
                let axes = Axes { title: &format!("Open queries by age, {}", w.describe()), x: "days since asked", y: "queries", labels: &labels };
                write_plot(file, charts::bars(&axes, &[("open queries", q.open_by_age.iter().map(|(_, n)| *n as f64).collect())])?)?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
