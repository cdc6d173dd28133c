//! Assignment strategies: which member of a group reads which partition.
//! Pure functions of the members' subscriptions, the topics' partition
//! counts and (for sticky) the previous assignment. Every partition of a
//! subscribed topic goes to exactly one member subscribed to that topic.
//!
//! - `range`: per topic, the subscribed members (by id) get contiguous
//!   ranges; the first `partitions % members` get one more.
//! - `roundrobin`: every (topic, partition), in order, dealt in turn to the
//!   next member subscribed to its topic.
//! - `sticky`: each member keeps what it had, up to its fair share; the
//!   rest go to the least loaded subscribed member.

use std::collections::BTreeMap;

pub use crate::protocol::groups::Strategy;

/// A topic and one of its partitions.
pub type TopicPartition = (String, u32);

/// Each member's partitions, by member id.
pub type Assignment = BTreeMap<String, Vec<TopicPartition>>;

/// What the assignment starts from: each member's subscribed topics (by
/// member id), each topic's partition count (topics that do not exist are
/// left out), and what each member had before.
pub struct AssignInput<'a> {
    pub subscriptions: &'a BTreeMap<String, Vec<String>>,
    pub partitions: &'a BTreeMap<String, u32>,
    pub previous: &'a Assignment,
}

pub fn assign(strategy: Strategy, input: &AssignInput<'_>) -> Assignment {
    let mut out: Assignment = input
        .subscriptions
        .keys()
        .map(|m| (m.clone(), Vec::new()))
        .collect();
    match strategy {
        Strategy::Range => range(input, &mut out),
        Strategy::RoundRobin => round_robin(input, &mut out),
        Strategy::Sticky => sticky(input, &mut out),
    }
    for partitions in out.values_mut() {
        partitions.sort();
    }
    out
}

/// The members subscribed to `topic`, in id order.
fn subscribers<'a>(input: &'a AssignInput<'_>, topic: &str) -> Vec<&'a String> {
    input
        .subscriptions
        .iter()
        .filter(|(_, topics)| topics.iter().any(|t| t == topic))
        .map(|(m, _)| m)
        .collect()
}

fn range(input: &AssignInput<'_>, out: &mut Assignment) {
    for (topic, &count) in input.partitions {
        let members = subscribers(input, topic);
        if members.is_empty() {
            continue;
        }
        let n = members.len() as u32;
        let (each, extra) = (count / n, count % n);
        let mut next = 0;
        for (i, member) in members.into_iter().enumerate() {
            let take = each + u32::from((i as u32) < extra);
            let partitions = out.get_mut(member).expect("every member has an entry");
            partitions.extend((next..next + take).map(|p| (topic.clone(), p)));
            next += take;
        }
    }
}

fn round_robin(input: &AssignInput<'_>, out: &mut Assignment) {
    let members: Vec<&String> = input.subscriptions.keys().collect();
    if members.is_empty() {
        return;
    }
    let mut turn = 0;
    for (topic, &count) in input.partitions {
        for p in 0..count {
            // The next member in turn that reads this topic.
            for step in 0..members.len() {
                let member = members[(turn + step) % members.len()];
                if input.subscriptions[member].iter().any(|t| t == topic) {
                    out.get_mut(member)
                        .expect("every member has an entry")
                        .push((topic.clone(), p));
                    turn = (turn + step + 1) % members.len();
                    break;
                }
            }
        }
    }
}

fn sticky(input: &AssignInput<'_>, out: &mut Assignment) {
    let subscribed = |member: &str, topic: &str| {
        input
            .subscriptions
            .get(member)
            .is_some_and(|topics| topics.iter().any(|t| t == topic))
    };
    let valid = |(topic, p): &TopicPartition| input.partitions.get(topic).is_some_and(|n| p < n);
    let total: usize = input
        .partitions
        .iter()
        .filter(|(topic, _)| !subscribers(input, topic).is_empty())
        .map(|(_, &n)| n as usize)
        .sum();
    let members = input.subscriptions.len().max(1);
    let (floor, mut extras) = (total / members, total % members);
    // Keep what each member had, most first, within its fair share.
    let mut kept: Vec<(&String, Vec<TopicPartition>)> = input
        .subscriptions
        .keys()
        .map(|m| {
            let had: Vec<TopicPartition> = input
                .previous
                .get(m)
                .into_iter()
                .flatten()
                .filter(|tp| valid(tp) && subscribed(m, &tp.0))
                .cloned()
                .collect();
            (m, had)
        })
        .collect();
    kept.sort_by(|a, b| b.1.len().cmp(&a.1.len()).then(a.0.cmp(b.0)));
    let mut taken = std::collections::BTreeSet::new();
    for (member, mut had) in kept {
        had.sort();
        had.retain(|tp| !taken.contains(tp));
        let mut share = floor;
        if had.len() > floor && extras > 0 {
            share += 1;
            extras -= 1;
        }
        had.truncate(share);
        taken.extend(had.iter().cloned());
        out.insert(member.clone(), had);
    }
    // The rest, each to the least loaded member that reads its topic.
    for (topic, &count) in input.partitions {
        for p in 0..count {
            let tp = (topic.clone(), p);
            if taken.contains(&tp) {
                continue;
            }
            let least = out
                .iter_mut()
                .filter(|(m, _)| subscribed(m, topic))
                .min_by(|a, b| a.1.len().cmp(&b.1.len()).then(a.0.cmp(b.0)));
            if let Some((_, partitions)) = least {
                partitions.push(tp.clone());
                taken.insert(tp);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn members(n: usize, topics: &[&str]) -> BTreeMap<String, Vec<String>> {
        (0..n)
            .map(|i| {
                (
                    format!("m{i:02}"),
                    topics.iter().map(|t| t.to_string()).collect(),
                )
            })
            .collect()
    }

    fn counts(topics: &[(&str, u32)]) -> BTreeMap<String, u32> {
        topics.iter().map(|(t, n)| (t.to_string(), *n)).collect()
    }

    /// Every partition of every topic exactly once, each to a subscriber.
    fn assert_exactly_once(
        assignment: &Assignment,
        subscriptions: &BTreeMap<String, Vec<String>>,
        partitions: &BTreeMap<String, u32>,
    ) {
        let mut seen = BTreeMap::new();
        for (member, tps) in assignment {
            for tp in tps {
                assert!(
                    subscriptions[member].contains(&tp.0),
                    "{member} reads {tp:?}"
                );
                assert!(seen.insert(tp.clone(), member).is_none(), "{tp:?} twice");
            }
        }
        let expected: usize = partitions
            .iter()
            .filter(|(t, _)| subscriptions.values().any(|ts| ts.contains(t)))
            .map(|(_, n)| *n as usize)
            .sum();
        assert_eq!(seen.len(), expected);
    }

    fn spread(assignment: &Assignment) -> usize {
        let sizes: Vec<usize> = assignment.values().map(Vec::len).collect();
        sizes.iter().max().unwrap() - sizes.iter().min().unwrap()
    }

    #[test]
    fn every_strategy_assigns_each_partition_once_and_balanced() {
        let none = Assignment::new();
        for strategy in Strategy::ALL {
            for n in 1..=7 {
                for topics in [
                    vec![("a", 12)],
                    vec![("a", 5), ("b", 7)],
                    vec![("a", 1)],
                    vec![("a", 3), ("b", 3), ("c", 3)],
                ] {
                    let names: Vec<&str> = topics.iter().map(|(t, _)| *t).collect();
                    let subscriptions = members(n, &names);
                    let partitions = counts(&topics);
                    let input = AssignInput {
                        subscriptions: &subscriptions,
                        partitions: &partitions,
                        previous: &none,
                    };
                    let assignment = assign(strategy, &input);
                    assert_exactly_once(&assignment, &subscriptions, &partitions);
                    if strategy == Strategy::Range {
                        // Range balances each topic on its own.
                        for (topic, _) in &topics {
                            let per: Vec<usize> = assignment
                                .values()
                                .map(|tps| tps.iter().filter(|tp| tp.0 == *topic).count())
                                .collect();
                            let spread = per.iter().max().unwrap() - per.iter().min().unwrap();
                            assert!(spread <= 1, "{strategy:?} {n} {topics:?}");
                        }
                    } else {
                        assert!(spread(&assignment) <= 1, "{strategy:?} {n} {topics:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn members_reading_other_topics_get_only_theirs() {
        let mut subscriptions = members(2, &["a"]);
        subscriptions.insert("m99".into(), vec!["b".into()]);
        let partitions = counts(&[("a", 4), ("b", 2), ("unread", 3)]);
        for strategy in Strategy::ALL {
            let input = AssignInput {
                subscriptions: &subscriptions,
                partitions: &partitions,
                previous: &Assignment::new(),
            };
            let assignment = assign(strategy, &input);
            assert_exactly_once(&assignment, &subscriptions, &partitions);
            assert_eq!(
                assignment["m99"],
                [("b".to_string(), 0), ("b".to_string(), 1)]
            );
        }
    }

    #[test]
    fn sticky_keeps_what_it_can() {
        let partitions = counts(&[("a", 12)]);
        let three = members(3, &["a"]);
        let first = assign(
            Strategy::Sticky,
            &AssignInput {
                subscriptions: &three,
                partitions: &partitions,
                previous: &Assignment::new(),
            },
        );
        // m01 leaves: m00 and m02 keep all of theirs and split m01's.
        let mut two = three.clone();
        two.remove("m01");
        let second = assign(
            Strategy::Sticky,
            &AssignInput {
                subscriptions: &two,
                partitions: &partitions,
                previous: &first,
            },
        );
        assert_exactly_once(&second, &two, &partitions);
        for m in ["m00", "m02"] {
            for tp in &first[m] {
                assert!(second[m].contains(tp), "{m} kept {tp:?}");
            }
        }
        // Two members join: they get 3 each, and only those 6 move.
        let four = members(4, &["a"]);
        let third = assign(
            Strategy::Sticky,
            &AssignInput {
                subscriptions: &four,
                partitions: &partitions,
                previous: &second,
            },
        );
        assert_exactly_once(&third, &four, &partitions);
        assert!(spread(&third) <= 1);
        let moved: usize = second
            .iter()
            .map(|(m, tps)| tps.iter().filter(|tp| !third[m].contains(tp)).count())
            .sum();
        assert_eq!(moved, 6);
    }

    #[test]
    fn names_round_trip() {
        for s in Strategy::ALL {
            assert_eq!(Strategy::from_name(s.name()), Some(s));
        }
        assert_eq!(Strategy::from_name("bogus"), None);
    }
}
