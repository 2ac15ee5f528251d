//! Node targeting: which live nodes a job with `tags` runs on (Dkron's rules, §7.2 of its
//! spec, except that a job without tags runs on one node, not on every node). Pure.
//!
//! * Candidates: the live members that carry every one of the job's tags with the same
//!   value (`"role": "worker"` matches `--tag role=worker`).
//! * Count: `"value:N"` limits the run to N of them; with several tags the lowest N wins;
//!   a count that is not a number selects no node. Without a count, every candidate runs.
//! * Selection: uniform random among the candidates.

use std::collections::BTreeMap;

use crate::store::Member;

/// The tags a node must carry, and how many such nodes a run wants (`None`: all).
fn parse(tags: &BTreeMap<String, String>) -> (Vec<(&String, &str)>, Option<usize>) {
    let mut count: Option<usize> = None;
    let mut wanted = Vec::with_capacity(tags.len());
    for (key, spec) in tags {
        let (value, limit) = match spec.rsplit_once(':') {
            Some((value, n)) => (value, Some(n.trim().parse::<usize>().unwrap_or(0))),
            None => (spec.as_str(), None),
        };
        if let Some(limit) = limit {
            count = Some(count.map_or(limit, |c| c.min(limit)));
        }
        wanted.push((key, value));
    }
    (wanted, count)
}

/// How many nodes a run of a job with `tags` wants, when its tags give a count.
pub(super) fn wanted_count(tags: &BTreeMap<String, String>) -> Option<usize> {
    parse(tags).1
}

/// The nodes a tick of a job with `tags` runs on, picked among `alive`; empty when no
/// live node matches (the caller records the tick as failed with [`NO_MATCHING_NODE`]).
pub(super) fn select(
    tags: &BTreeMap<String, String>,
    alive: &[Member],
    random: &mut dyn FnMut(usize) -> usize,
) -> Vec<String> {
    let (wanted, count) = parse(tags);
    let mut candidates: Vec<&Member> = alive
        .iter()
        .filter(|member| {
            wanted
                .iter()
                .all(|(key, value)| member.tags.get(*key).map(String::as_str) == Some(*value))
        })
        .collect();
    let count = count.unwrap_or(candidates.len()).min(candidates.len());
    let mut chosen = Vec::with_capacity(count);
    while chosen.len() < count {
        let index = random(candidates.len());
        chosen.push(candidates.swap_remove(index).name.clone());
    }
    chosen
}

/// The reason of an execution whose job's tags match no live node.
pub(super) const NO_MATCHING_NODE: &str = "no matching node";

#[cfg(test)]
mod tests {
    use super::*;

    fn member(name: &str, tags: &[(&str, &str)]) -> Member {
        Member {
            name: name.into(),
            address: "127.0.0.1:1".into(),
            tags: tags
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            started_at: chrono::DateTime::default(),
            heartbeat_at: chrono::DateTime::default(),
        }
    }

    fn tags(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn nodes() -> Vec<Member> {
        vec![
            member("a", &[("role", "worker"), ("dc", "x")]),
            member("b", &[("role", "worker")]),
            member("c", &[("role", "web")]),
            member("d", &[("role", "worker"), ("dc", "x")]),
        ]
    }

    fn first(_: usize) -> usize {
        0
    }

    #[test]
    fn a_count_picks_that_many_distinct_matching_nodes() {
        let mut picked = select(&tags(&[("role", "worker:2")]), &nodes(), &mut first);
        picked.sort();
        assert_eq!(picked.len(), 2);
        assert!(picked.iter().all(|n| n != "c"), "{picked:?}");
        picked.dedup();
        assert_eq!(picked.len(), 2);
    }

    #[test]
    fn without_a_count_every_matching_node_runs_it() {
        let mut picked = select(&tags(&[("role", "worker")]), &nodes(), &mut first);
        picked.sort();
        assert_eq!(picked, ["a", "b", "d"]);
    }

    #[test]
    fn every_tag_must_match_and_the_lowest_count_wins() {
        let picked = select(
            &tags(&[("role", "worker:3"), ("dc", "x:1")]),
            &nodes(),
            &mut first,
        );
        assert_eq!(picked.len(), 1);
        assert!(["a", "d"].contains(&picked[0].as_str()), "{picked:?}");
    }

    #[test]
    fn no_match_or_a_bad_count_selects_nothing() {
        assert!(select(&tags(&[("role", "db")]), &nodes(), &mut first).is_empty());
        assert!(select(&tags(&[("role", "worker:x")]), &nodes(), &mut first).is_empty());
    }

    #[test]
    fn a_count_above_the_candidates_takes_them_all() {
        let picked = select(&tags(&[("role", "web:5")]), &nodes(), &mut first);
        assert_eq!(picked, ["c"]);
    }
}
