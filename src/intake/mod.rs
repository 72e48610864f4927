//! Files from outside, read and checked before anything is stored: queue files of reported terms.

pub mod queue;
