//! The queue list: counts per state, filters (state, study, text), sort, and one row per item
//! with its top proposal. Only the visible rows are drawn: a study queue can hold tens of
//! thousands.

use anyhow::Result;
use crossterm::event::KeyCode;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Cell, Paragraph, Row, Table, TableState};
use ratatui::Frame;

use super::{moved, stats::Stats, Cmd, Ctx, Prompt, Screen, ScreenId};
use crate::desk::QueueRow;
use crate::store::item::{Item, ItemFilter, ItemSummary, State};
use crate::store::queue::TermGroup;
use crate::tui::action::{Action, Binding};
use crate::tui::theme::{truncate, Theme, Tone};

const KEYS: &[Binding] = &[
    Binding::new(&[KeyCode::Up, KeyCode::Char('k')], Action::Up, "↑↓ PgUp/Dn Home/End", "", "move"),
    Binding::hidden(&[KeyCode::Down, KeyCode::Char('j')], Action::Down),
    Binding::hidden(&[KeyCode::PageUp], Action::PageUp),
    Binding::hidden(&[KeyCode::PageDown], Action::PageDown),
    Binding::hidden(&[KeyCode::Home], Action::Home),
    Binding::hidden(&[KeyCode::End], Action::End),
    Binding::new(&[KeyCode::Enter], Action::Select, "Enter", "open", "open the item; reviewers review proposed items"),
    Binding::new(&[KeyCode::Char('t')], Action::PickState, "t", "filters", "choose the state filter (then one key)").in_footer_as("t s f m"),
    Binding::new(&[KeyCode::Char('s')], Action::CycleStudy, "s", "", "cycle study filter"),
    Binding::new(&[KeyCode::Char('f'), KeyCode::Char('/')], Action::Filter, "f", "", "text filter (also /)"),
    Binding::new(&[KeyCode::Char('o')], Action::CycleSort, "o", "sort", "sort: id, priority, state, confidence"),
    Binding::new(&[KeyCode::Char('m')], Action::MyWork, "m", "", "my work: assigned to me, waiting, by priority"),
    Binding::new(&[KeyCode::Char('g')], Action::Group, "g", "group", "group identical terms, to code them at once"),
    Binding::new(&[KeyCode::Char('+')], Action::MultiOnly, "+", "", "grouped view: only terms of 2+ items"),
    Binding::new(&[KeyCode::Char('r')], Action::Reload, "r", "", "reload (others' changes)"),
    Binding::new(&[KeyCode::Char('x')], Action::Stats, "x", "stats", "statistics: back-test and team reports"),
    Binding::new(&[KeyCode::Char('B')], Action::BulkConfirm, "B", "", "bulk confirm others' proposals in this list"),
    Binding::new(&[KeyCode::Char('y')], Action::Synonyms, "y", "", "synonym candidates to approve"),
    Binding::new(&[KeyCode::Char('?'), KeyCode::F(1)], Action::Help, "?", "help", ""),
    // Esc never quits: it is "back" everywhere else, and a coder pressing it once too often
    // must not lose the desk.
    Binding::new(&[KeyCode::Char('q')], Action::Quit, "q", "quit", "quit"),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Sort {
    #[default]
    Id,
    /// Returned, answered queries, serious, overdue study, then oldest (desk::priority).
    Priority,
    State,
    ConfidenceLowFirst,
}

impl Sort {
    pub fn label(self) -> &'static str {
        match self {
            Sort::Id => "id",
            Sort::Priority => "priority",
            Sort::State => "state",
            Sort::ConfidenceLowFirst => "confidence (lowest first)",
        }
    }
}

#[derive(Default)]
pub struct Queue {
    pub rows: Vec<QueueRow>,
    pub sel: usize,
    pub state_filter: Option<State>,
    pub study_filter: Option<String>,
    pub studies: Vec<String>,
    pub text_filter: String,
    pub sort: Sort,
    pub counts: Vec<(State, usize)>,
    /// Grouped by identical reported terms: `groups` is the list, `sel` indexes it.
    pub grouped: bool,
    pub groups: Vec<TermGroup>,
    /// "My work": only the items assigned to the user that wait for them, by priority.
    pub mine: bool,
    assignments: Vec<crate::store::worklist::Assignment>,
    due_dates: Vec<(String, String)>,
    /// The header's line on the model's confidence (model-first, drift; true: a warning), and
    /// the confirmed count it was computed at (recomputed only when decisions arrived).
    confidence: Option<(String, bool)>,
    confidence_at: Option<usize>,
    /// Grouped: only groups of more than one item.
    pub multi_only: bool,
    /// The items a bulk confirmation asked for covers, as read when it was asked.
    bulk: Option<Vec<Item>>,
}

impl Queue {
    pub fn new(ctx: &Ctx) -> Result<Queue> {
        let mut q = Queue { studies: ctx.desk().studies()?, ..Default::default() };
        q.refresh(ctx)?;
        Ok(q)
    }

    /// A reviewer's bulk confirmation of the list: its proposed items as read now, each still
    /// with the code the list shows (one changed since is left out), the reviewer's own
    /// included so that the outcome names them.
    fn bulk_confirm(&mut self, ctx: &Ctx) -> Result<Cmd> {
        let desk = ctx.desk();
        if !desk.user.role.can_review() {
            return Ok(Cmd::Say(format!("{} is a {}: only reviewers and admins confirm codes.", desk.user.name, desk.user.role), Tone::Bad));
        }
        if self.grouped {
            return Ok(Cmd::Say("Bulk confirmation works on the item list: g leaves the grouped view.".into(), Tone::Info));
        }
        let shown: std::collections::HashMap<i64, Option<u32>> =
            self.rows.iter().filter(|r| r.item.state == State::Proposed).map(|r| (r.item.id, r.item.llt_code)).collect();
        let seen: Vec<_> = desk.items_in(&self.filter())?.into_iter().filter(|i| i.state == State::Proposed && shown.get(&i.id) == Some(&i.llt_code)).collect();
        let me = desk.user.name.as_str();
        let others = seen.iter().filter(|i| i.proposer.as_deref() != Some(me)).count();
        if others == 0 {
            return Ok(Cmd::Say("No proposal of someone else in this list: nothing to confirm (narrow it with t, s, f).".into(), Tone::Info));
        }
        let own = seen.len() - others;
        let studies: std::collections::BTreeSet<&str> = seen.iter().filter(|i| i.proposer.as_deref() != Some(me)).map(|i| i.study.as_str()).collect();
        let say = format!(
            "{others} proposal(s) of others in {} stud{} ({}){}: type yes to confirm them",
            studies.len(),
            if studies.len() == 1 { "y" } else { "ies" },
            studies.iter().take(3).copied().collect::<Vec<_>>().join(", "),
            if own > 0 { format!("; {own} of yours left out") } else { String::new() }
        );
        self.bulk = Some(seen);
        Ok(Cmd::Ask(Prompt::BulkConfirm, say))
    }

    fn filter(&self) -> ItemFilter {
        ItemFilter {
            states: self.state_filter.into_iter().collect(),
            study: self.study_filter.clone(),
            text: (!self.text_filter.is_empty()).then(|| self.text_filter.clone()),
        }
    }

    /// Reloads the rows (keeping the selected item when it is still listed).
    pub fn refresh(&mut self, ctx: &Ctx) -> Result<()> {
        let desk = ctx.desk();
        let keep = self.rows.get(self.sel).map(|r| r.item.id);
        self.rows = desk.queue(&self.filter())?;
        self.counts = desk.counts()?;
        let confirmed = self.counts.iter().find(|(s, _)| *s == State::Confirmed).map_or(0, |(_, n)| *n);
        if self.confidence_at != Some(confirmed) {
            self.confidence = desk.confidence_status()?;
            self.confidence_at = Some(confirmed);
        }
        // The worklist's tables are read only while a view uses them: a reload of a large queue
        // (every few seconds while colleagues work) pays for nothing else.
        let by_priority = self.mine || self.sort == Sort::Priority;
        self.assignments = if self.mine { desk.store.assignments()? } else { Vec::new() };
        self.due_dates = if by_priority { desk.store.due_dates()? } else { Vec::new() };
        if self.mine {
            let (me, list) = (&desk.user, &self.assignments);
            self.rows.retain(|r| crate::desk::can_act(&r.item, me) && crate::store::worklist::assignee(list, &r.item) == Some(me.name.as_str()));
        }
        self.sort_rows();
        if self.grouped {
            let keep = self.groups.get(self.sel).map(|g| g.term.clone());
            self.groups = desk.groups(&self.filter())?;
            // The largest groups first: one decision codes the most items there (stable: equal
            // sizes keep the queue's order).
            self.groups.sort_by_key(|g| std::cmp::Reverse(g.items));
            if self.multi_only {
                self.groups.retain(|g| g.items > 1);
            }
            self.sel = keep.and_then(|k| self.groups.iter().position(|g| g.term == k)).unwrap_or(self.sel).min(self.groups.len().saturating_sub(1));
        } else {
            self.sel = keep.and_then(|k| self.position(k)).unwrap_or(self.sel).min(self.rows.len().saturating_sub(1));
        }
        Ok(())
    }

    fn sort_rows(&mut self) {
        let sort = if self.mine { Sort::Priority } else { self.sort };
        match sort {
            Sort::Id => {}
            Sort::Priority => {
                let today = crate::desk::today();
                let due = &self.due_dates;
                self.rows.sort_by_cached_key(|r| crate::desk::priority(&r.item, due, &today));
            }
            Sort::State => self.rows.sort_by_key(|r| (State::ALL.iter().position(|s| *s == r.item.state), r.item.id)),
            Sort::ConfidenceLowFirst => self.rows.sort_by(|a, b| {
                let c = |r: &QueueRow| r.top.as_ref().map_or(-1.0, |t| t.confidence);
                c(a).total_cmp(&c(b)).then(a.item.id.cmp(&b.item.id))
            }),
        }
    }

    /// Rows on screen: groups when grouped, else items.
    fn len(&self) -> usize {
        if self.grouped {
            self.groups.len()
        } else {
            self.rows.len()
        }
    }

    pub fn position(&self, item_id: i64) -> Option<usize> {
        self.rows.iter().position(|r| r.item.id == item_id)
    }

    pub fn selected_id(&self) -> Option<&str> {
        self.rows.get(self.sel).map(|r| r.item.external_id.as_str())
    }

    /// The first item listed after `item_id`, as the list is now, that `user` can act on: one to
    /// code (new, returned) or, for a reviewer, somebody else's proposal. Items on query, confirmed
    /// or the reviewer's own proposals are passed over.
    pub fn after(&self, item_id: i64, user: &crate::store::users::User) -> Option<i64> {
        let from = self.position(item_id)? + 1;
        self.rows.get(from..)?.iter().find(|r| crate::desk::can_act(&r.item, user)).map(|r| r.item.id)
    }

    /// After the user's own action on one item: its row is replaced, or dropped when it no longer
    /// matches the state filter, and the counts are reloaded. Reloading the whole list per action
    /// would cost a large queue; others' changes appear on `r` or on return to the list.
    pub fn update_row(&mut self, ctx: &Ctx, item: Item) -> Result<()> {
        let desk = ctx.desk();
        self.counts = desk.counts()?;
        let Some(pos) = self.position(item.id) else { return Ok(()) };
        if self.state_filter.is_some_and(|s| s != item.state) {
            self.rows.remove(pos);
        } else {
            self.rows[pos] = desk.row(ItemSummary::from(&item))?;
            self.sort_rows();
        }
        self.sel = self.sel.min(self.rows.len().saturating_sub(1));
        Ok(())
    }

    /// Updates only the rows that got proposals; the order depends on proposals only when sorted
    /// by confidence, and then the whole list is reloaded.
    pub fn show_new_proposals(&mut self, ctx: &Ctx, ids: &[i64]) -> Result<()> {
        if self.sort == Sort::ConfidenceLowFirst {
            return self.refresh(ctx);
        }
        let desk = ctx.desk();
        for row in self.rows.iter_mut().filter(|r| ids.contains(&r.item.id)) {
            *row = desk.row(row.item.clone())?;
        }
        Ok(())
    }

    /// Shows only items in `state` (all when None).
    pub fn set_state_filter(&mut self, ctx: &Ctx, state: Option<State>) -> Result<()> {
        self.state_filter = state;
        self.refiltered(ctx).map(|_| ())
    }

    fn refiltered(&mut self, ctx: &Ctx) -> Result<Cmd> {
        self.sel = 0;
        self.refresh(ctx)?;
        Ok(Cmd::None)
    }
}

impl Screen for Queue {
    fn id(&self) -> ScreenId {
        ScreenId::Queue
    }

    fn keymap(&self) -> &'static [Binding] {
        KEYS
    }

    fn notes(&self) -> &'static [&'static str] {
        &["= the item's code; else the top proposal, confidence, ? if uncertain"]
    }

    fn perform(&mut self, action: Action, ctx: &mut Ctx) -> Result<Cmd> {
        if let Some(s) = moved(self.sel, self.len(), action) {
            self.sel = s;
            return Ok(Cmd::None);
        }
        match action {
            Action::Select if self.grouped => Ok(self.groups.get(self.sel).map_or(Cmd::None, |g| Cmd::OpenGroup(g.clone()))),
            Action::Select => Ok(self.selected_id().map_or(Cmd::None, |id| Cmd::Open(id.to_string()))),
            Action::Group => {
                self.grouped = !self.grouped;
                self.refiltered(ctx)
            }
            Action::MultiOnly if !self.grouped => Ok(Cmd::Say("+ narrows the grouped view: g groups identical terms first.".into(), Tone::Info)),
            Action::MultiOnly => {
                self.multi_only = !self.multi_only;
                self.refiltered(ctx)
            }
            Action::PickState => Ok(Cmd::Prompt(Prompt::StateFilter, String::new())),
            Action::CycleStudy => {
                self.study_filter = match &self.study_filter {
                    None => self.studies.first().cloned(),
                    Some(s) => self.studies.iter().position(|x| x == s).and_then(|i| self.studies.get(i + 1).cloned()),
                };
                self.refiltered(ctx)
            }
            Action::CycleSort => {
                if self.mine {
                    return Ok(Cmd::Say("My work is sorted by priority: m shows the whole queue again.".into(), Tone::Info));
                }
                if self.grouped {
                    return Ok(Cmd::Say("Groups are listed largest first: g shows the items, which o sorts.".into(), Tone::Info));
                }
                self.sort = match self.sort {
                    Sort::Id => Sort::Priority,
                    Sort::Priority => Sort::State,
                    Sort::State => Sort::ConfidenceLowFirst,
                    Sort::ConfidenceLowFirst => Sort::Id,
                };
                // A new order starts at its top, not wherever the selected item moved to.
                self.refiltered(ctx)
            }
            Action::MyWork => {
                self.mine = !self.mine;
                self.grouped = false;
                self.refiltered(ctx)?;
                Ok(match (self.mine, self.rows.is_empty()) {
                    (true, true) => Cmd::Say("Nothing assigned to you waits for you (an admin assigns work: medcoder assign).".into(), Tone::Info),
                    (true, false) => Cmd::Say(format!("My work: {} item(s), most pressing first.", self.rows.len()), Tone::Info),
                    (false, _) => Cmd::Say("The whole queue.".into(), Tone::Info),
                })
            }
            Action::Filter => Ok(Cmd::Prompt(Prompt::Filter, self.text_filter.clone())),
            Action::Reload => {
                self.refresh(ctx)?;
                Ok(Cmd::Say("Queue reloaded.".into(), Tone::Info))
            }
            Action::Stats => Ok(Cmd::Push(Box::new(Stats::load(ctx)?))),
            Action::Synonyms => Ok(Cmd::Push(Box::new(super::synonyms::Synonyms::load(ctx)?))),
            Action::BulkConfirm => self.bulk_confirm(ctx),
            _ => Ok(Cmd::None),
        }
    }

    fn submit(&mut self, prompt: Prompt, text: String, ctx: &mut Ctx) -> Result<Cmd> {
        if prompt == Prompt::BulkConfirm {
            let seen = self.bulk.take().unwrap_or_default();
            return Ok(if text.trim().eq_ignore_ascii_case("yes") {
                Cmd::Signed(super::Signed::Bulk(seen))
            } else {
                Cmd::Say("Not confirmed: type yes to confirm the list's proposals.".into(), Tone::Info)
            });
        }
        if prompt == Prompt::Filter {
            self.text_filter = text.trim().to_string();
            return self.refiltered(ctx);
        }
        Ok(Cmd::None)
    }

    fn draw(&self, f: &mut Frame, area: Rect, ctx: &Ctx, theme: Theme) {
        let header = 2 + u16::from(self.confidence.is_some());
        let [top, table_area] = Layout::vertical([Constraint::Length(header), Constraint::Min(3)]).areas(area);
        self.draw_header(f, top, theme);
        if self.grouped {
            self.draw_groups(f, table_area, theme);
        } else {
            self.draw_items(f, table_area, ctx, theme);
        }
    }
}

impl Queue {
    fn draw_header(&self, f: &mut Frame, top: Rect, theme: Theme) {
        let counts: Vec<Span> = self
            .counts
            .iter()
            .filter(|(s, n)| s.in_counts(*n))
            .flat_map(|(s, n)| [Span::styled(format!("{s} {n}"), theme.state(*s)), Span::raw("  ")])
            .collect();
        let filters = format!(
            "showing {} · state: {} · study: {} · filter: {} · sort: {}",
            if self.grouped { format!("{} terms", self.groups.len()) } else { self.rows.len().to_string() },
            self.state_filter.map_or("all".into(), |s| s.to_string()),
            self.study_filter.clone().unwrap_or_else(|| "all".into()),
            if self.text_filter.is_empty() { "-".into() } else { format!("'{}'", self.text_filter) },
            if self.grouped {
                "grouped by term"
            } else if self.mine {
                "my work, by priority"
            } else {
                self.sort.label()
            }
        );
        let mut lines = vec![Line::from(counts), Line::styled(filters, theme.dim())];
        if let Some((text, warn)) = &self.confidence {
            lines.push(Line::styled(text.clone(), if *warn { theme.warn() } else { theme.dim() }));
        }
        f.render_widget(Paragraph::new(lines), top);
    }

    /// The first row drawn, so that the selection stays on screen.
    fn window_start(&self, table_area: Rect) -> (usize, usize) {
        let visible = table_area.height.saturating_sub(3).max(1) as usize;
        (self.sel.saturating_sub(visible - 1).min(self.len().saturating_sub(1)), visible)
    }

    fn draw_groups(&self, f: &mut Frame, table_area: Rect, theme: Theme) {
        let (start, visible) = self.window_start(table_area);
        // Each group as its first item was written, not as the normalised key.
        let spelling: std::collections::HashMap<i64, &str> = self.rows.iter().map(|r| (r.item.id, r.item.reported_term.as_str())).collect();
        let term_w = table_area.width.saturating_sub(2 + 6 + 8 + 9 + 10 + 4) as usize;
        let rows: Vec<Row> = self
            .groups
            .iter()
            .skip(start)
            .take(visible)
            .map(|g| {
                let cell = |n: i64| Cell::from(if n == 0 { "-".to_string() } else { n.to_string() });
                let written = spelling.get(&g.first_id).copied().unwrap_or(&g.term);
                Row::new(vec![Cell::from(truncate(written, term_w)), Cell::from(g.items.to_string()), cell(g.to_code), cell(g.proposed), cell(g.confirmed)])
            })
            .collect();
        let widths = [Constraint::Fill(1), Constraint::Length(6), Constraint::Length(8), Constraint::Length(9), Constraint::Length(10)];
        let table = Table::new(rows, widths)
            .header(Row::new(vec!["reported term (identical ones grouped)", "items", "to code", "proposed", "confirmed"]).style(theme.title()))
            .block(Block::bordered().title(if self.multi_only {
                " Coding queue by term: more than one item (+ shows all) "
            } else {
                " Coding queue by term (+: more than one item) "
            }))
            .row_highlight_style(theme.selected());
        let mut st = TableState::default().with_selected((!self.groups.is_empty()).then_some(self.sel - start));
        f.render_stateful_widget(table, table_area, &mut st);
    }

    fn draw_items(&self, f: &mut Frame, table_area: Rect, ctx: &Ctx, theme: Theme) {
        let wide = table_area.width >= 110;
        // Fixed columns (id 8, state 9, study 8, by 7, conf 6, the subject 8 when wide) and a gap
        // after each; the term and the code share the rest 3:2, cut with an ellipsis.
        let fixed = 8 + 9 + 8 + 7 + 6 + 6 + if wide { 9 } else { 0 };
        let rest = (table_area.width as usize).saturating_sub(2 + fixed).max(10);
        let (term_w, code_w) = (rest * 3 / 5, rest - rest * 3 / 5);
        // The window scrolls as the table would, keeping the selection on its last line once
        // past the first page.
        let (start, visible) = self.window_start(table_area);
        let rows: Vec<Row> = self
            .rows
            .iter()
            .skip(start)
            .take(visible)
            .map(|r| {
                let (top_name, conf) = match (&r.top, ctx.pending.contains(&r.item.id)) {
                    // A coded item shows its code, so a reviewer sees what they would confirm.
                    _ if r.item.llt_code.is_some() => (format!("= {}", ctx.desk().llt_name(r.item.llt_code.unwrap_or_default())), String::new()),
                    (Some(t), _) => (ctx.desk().llt_name(t.llt_code), format!("{:>3.0}%{}", 100.0 * t.confidence, if r.uncertain { " ?" } else { "" })),
                    (None, true) => ("…".into(), String::new()),
                    (None, false) => ("-".into(), String::new()),
                };
                let mut cells = vec![
                    Cell::from(truncate(&r.item.external_id, 8)),
                    Cell::from(Span::styled(r.item.state.to_string(), theme.state(r.item.state))),
                    Cell::from(truncate(&r.item.study, 8)),
                    Cell::from(truncate(&r.item.reported_term, term_w)),
                    Cell::from(truncate(&top_name, code_w)),
                    Cell::from(truncate(r.item.proposer.as_deref().unwrap_or(""), 7)),
                    Cell::from(Span::styled(conf, if r.uncertain { theme.warn() } else { Style::default() })),
                ];
                if wide {
                    cells.insert(3, Cell::from(truncate(&r.item.subject, 8)));
                }
                Row::new(cells)
            })
            .collect();
        let mut widths = vec![
            Constraint::Length(8),
            Constraint::Length(9),
            Constraint::Length(8),
            Constraint::Length(term_w as u16),
            Constraint::Length(code_w as u16),
            Constraint::Length(7),
            Constraint::Length(6),
        ];
        let mut header = vec!["id", "state", "study", "reported term", "= code/top", "by", "conf"];
        if wide {
            widths.insert(3, Constraint::Length(8));
            header.insert(3, "subject");
        }
        let table = Table::new(rows, widths)
            .header(Row::new(header).style(theme.title()))
            .block(Block::bordered().title(" Coding queue "))
            .row_highlight_style(theme.selected());
        let mut st = TableState::default().with_selected((!self.rows.is_empty()).then_some(self.sel - start));
        f.render_stateful_widget(table, table_area, &mut st);
    }
}
