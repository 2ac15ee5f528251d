//! Scheduling: when each job fires. Today the pure part, [`schedule`] (parsing a job's
//! `schedule` and `timezone` and computing its fire times); the timer and the dispatch to
//! the runtime join it with the jobs API.

pub mod schedule;
