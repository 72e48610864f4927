//! What the desk does with a key while a prompt is open: text typed, the signature, the state
//! filter's one key, the reason for a recode.

use super::*;

impl App {
    pub(super) fn on_prompt(&mut self, p: Prompt, mut text: String, action: Action) {
        match action {
            Action::Select if p == Prompt::Signature => self.sign_and_decide(&text),
            Action::Back if p == Prompt::Signature => {
                self.unsigned = None;
                self.unsigned_job = None;
                self.say("Not signed: nothing was confirmed, returned or decided", Tone::Bad);
            }
            Action::Type(c) if p == Prompt::StateFilter => match crate::tui::screens::state_key(c) {
                Some(state) => {
                    if let Err(e) = self.queue.set_state_filter(&self.ctx, state) {
                        self.fail(e);
                    }
                }
                // Not a state's key: the prompt stays, listing the keys.
                None => self.prompt = Some((p, text)),
            },
            Action::Select if p == Prompt::StateFilter => self.prompt = Some((p, text)),
            Action::Select if p == Prompt::RecodeReason => {
                if let Some((llt, source)) = self.recoding.take() {
                    let comment = Some(text.trim().to_string()).filter(|c| !c.is_empty());
                    self.decide(Decision::Recode { llt, source, comment }, "recoded, back to review");
                }
            }
            Action::Back if p == Prompt::RecodeReason => {
                self.recoding = None;
                self.say("Not recoded: the confirmed code stands", Tone::Info);
            }
            Action::Select => {
                let r = self.with_active(|s, ctx| s.submit(p, text, ctx));
                self.run(r);
            }
            Action::Back => {}
            Action::Type(c) => {
                text.push(c);
                self.prompt = Some((p, text));
            }
            Action::Erase => {
                text.pop();
                self.prompt = Some((p, text));
            }
            _ => self.prompt = Some((p, text)),
        }
    }
}
