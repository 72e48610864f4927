//! Files from outside, read and checked before anything is stored or evaluated: queue files of
//! reported terms, and labelled (reported term, LLT) files.

pub mod labelled;
pub mod queue;
pub mod sdtm;
