//! The `--nodes` description of a cluster: comma-separated `name:RANKSxSPEEDxTHREADS` entries (or
//! `name:RANKSxSPEED`, one thread, or `name:RANKS`, speed 1), each a node running RANKS ranks of
//! THREADS threads (`--threads`) whose every thread works SPEED times as fast as one thread of the
//! recorded run. Ranks are numbered in the order the entries list them, as a hostfile numbers
//! them. Parsing only; nothing here simulates.

use std::fmt;

// Ranks per entry at most, as a hostfile's slots: a typo such as `pi:40000000` is refused instead
// of allocating for it.
use crate::scaling::hostfile::MAX_SLOTS as MAX_RANKS;

/// Threads per rank at most, as `--threads` allows.
const MAX_THREADS: usize = 1024;

/// One `--nodes` entry.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub name: String,
    pub ranks: usize,
    /// Work per second of each rank's thread, relative to one thread of the recorded run.
    pub speed: f64,
    /// Threads of each rank (`--threads`).
    pub threads: usize,
}

/// One rank as the simulation sees it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RankSpec {
    pub speed: f64,
    pub threads: usize,
}

/// The nodes of one `--nodes` flag, in rank order.
#[derive(Debug, Clone, PartialEq)]
pub struct Cluster {
    pub nodes: Vec<Node>,
}

/// A `--nodes` value that does not describe a cluster.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error(
    "--nodes `{value}`: bad entry `{entry}`: {problem}; expected comma-separated \
     name:RANKSxSPEEDxTHREADS, name:RANKSxSPEED or name:RANKS entries, \
     e.g. \"pi4:1x0.33x4,desktop:8x3.5\""
)]
pub struct NodesError {
    pub value: String,
    pub entry: String,
    pub problem: String,
}

impl Cluster {
    /// Parses one `--nodes` value.
    pub fn parse(value: &str) -> Result<Self, NodesError> {
        let nodes = value
            .split(',')
            .map(|entry| {
                parse_entry(entry.trim()).map_err(|problem| NodesError {
                    value: value.to_owned(),
                    entry: entry.trim().to_owned(),
                    problem,
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(Cluster { nodes })
    }

    pub fn ranks(&self) -> usize {
        self.nodes.iter().map(|n| n.ranks).sum()
    }

    /// Every rank's speed and threads, in rank order.
    pub fn ranks_specs(&self) -> Vec<RankSpec> {
        self.nodes
            .iter()
            .flat_map(|n| {
                let spec = RankSpec {
                    speed: n.speed,
                    threads: n.threads,
                };
                std::iter::repeat_n(spec, n.ranks)
            })
            .collect()
    }

    /// Whether any node runs more than one thread a rank.
    pub fn threaded(&self) -> bool {
        self.nodes.iter().any(|n| n.threads > 1)
    }

    /// The node that runs `rank`.
    pub fn node_of(&self, rank: usize) -> &Node {
        let mut first = 0;
        for node in &self.nodes {
            if rank < first + node.ranks {
                return node;
            }
            first += node.ranks;
        }
        panic!("rank {rank} is outside the cluster's {first} ranks")
    }
}

/// Written back in the `--nodes` syntax, speeds in their shortest exact form (`pi4:4x1`), threads
/// only when more than one (`pi4:1x0.33x4`).
impl fmt::Display for Cluster {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, node) in self.nodes.iter().enumerate() {
            let comma = if i == 0 { "" } else { "," };
            write!(f, "{comma}{}:{}x{}", node.name, node.ranks, node.speed)?;
            if node.threads != 1 {
                write!(f, "x{}", node.threads)?;
            }
        }
        Ok(())
    }
}

fn parse_entry(entry: &str) -> Result<Node, String> {
    if entry.is_empty() {
        return Err("empty entry".into());
    }
    let (name, spec) = entry
        .split_once(':')
        .ok_or("no `:` between the node name and its ranks")?;
    let name = name.trim();
    if name.is_empty() {
        return Err("the node name is empty".into());
    }
    if name.contains(char::is_whitespace) {
        return Err(format!("the node name `{name}` contains a space"));
    }
    let mut parts = spec.splitn(3, 'x').map(str::trim);
    let ranks = parts.next().unwrap_or_default();
    let (speed, threads) = (parts.next(), parts.next());
    let ranks = ranks
        .parse::<usize>()
        .ok()
        .filter(|r| (1..=MAX_RANKS).contains(r))
        .ok_or_else(|| format!("RANKS `{ranks}` is not an integer from 1 to {MAX_RANKS}"))?;
    let speed = match speed {
        None => 1.0,
        Some(text) => text
            .parse::<f64>()
            .ok()
            .filter(|s| s.is_finite() && *s > 0.0)
            .ok_or_else(|| format!("SPEED `{text}` is not a positive number"))?,
    };
    let threads = match threads {
        None => 1,
        Some(text) => text
            .parse::<usize>()
            .ok()
            .filter(|t| (1..=MAX_THREADS).contains(t))
            .ok_or_else(|| format!("THREADS `{text}` is not an integer from 1 to {MAX_THREADS}"))?,
    };
    Ok(Node {
        name: name.to_owned(),
        ranks,
        speed,
        threads,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_in_rank_order_with_speed_one_by_default() {
        let cluster = Cluster::parse(" pi4:4x1.0 , desktop:8x3.5,laptop:2").unwrap();
        assert_eq!(cluster.ranks(), 14);
        let speeds: Vec<f64> = cluster.ranks_specs().iter().map(|r| r.speed).collect();
        assert_eq!(speeds[..4], [1.0; 4]);
        assert_eq!(speeds[4..12], [3.5; 8]);
        assert_eq!(speeds[12..], [1.0; 2]);
        assert!(cluster.ranks_specs().iter().all(|r| r.threads == 1));
        assert!(!cluster.threaded());
        assert_eq!(cluster.node_of(3).name, "pi4");
        assert_eq!(cluster.node_of(4).name, "desktop");
        assert_eq!(cluster.node_of(13).name, "laptop");
        assert_eq!(cluster.to_string(), "pi4:4x1,desktop:8x3.5,laptop:2x1");
        assert_eq!(Cluster::parse(&cluster.to_string()).unwrap(), cluster);
    }

    #[test]
    fn bad_entries_are_one_line_errors_naming_the_flag_entry_and_form() {
        let cases = [
            ("pi4", "pi4", "no `:`"),
            ("pi4:4x1,", "", "empty entry"),
            ("", "", "empty entry"),
            (":4x1", ":4x1", "name is empty"),
            ("my pi:4", "my pi:4", "contains a space"),
            ("pi4:0x1", "pi4:0x1", "RANKS `0`"),
            ("pi4:-2", "pi4:-2", "RANKS `-2`"),
            ("pi4:2.5x1", "pi4:2.5x1", "RANKS `2.5`"),
            ("pi4:99999", "pi4:99999", "from 1 to 10000"),
            ("pi4:4x0", "pi4:4x0", "SPEED `0`"),
            ("pi4:4x-1", "pi4:4x-1", "SPEED `-1`"),
            ("pi4:4xfast", "pi4:4xfast", "SPEED `fast`"),
            ("pi4:4xinf", "pi4:4xinf", "SPEED `inf`"),
            ("pi4:4x", "pi4:4x", "SPEED ``"),
            ("a:1,pi4:4:2", "pi4:4:2", "RANKS `4:2`"),
            ("pi4:1x0.3x0", "pi4:1x0.3x0", "THREADS `0`"),
            ("pi4:1x0.3xmany", "pi4:1x0.3xmany", "THREADS `many`"),
            ("pi4:1x0.3x2.5", "pi4:1x0.3x2.5", "THREADS `2.5`"),
            ("pi4:1x0.3x", "pi4:1x0.3x", "THREADS ``"),
            ("pi4:1x0.3x4x2", "pi4:1x0.3x4x2", "THREADS `4x2`"),
            ("pi4:1x0.3x2000", "pi4:1x0.3x2000", "from 1 to 1024"),
        ];
        for (value, entry, problem) in cases {
            let err = Cluster::parse(value).unwrap_err();
            assert_eq!(err.entry, entry, "{value}");
            let message = err.to_string();
            assert!(!message.contains('\n'), "{message}");
            assert!(
                message.starts_with(&format!("--nodes `{value}`: bad entry `{entry}`:")),
                "{message}"
            );
            assert!(message.contains(problem), "{value}: {message}");
            assert!(message.contains("name:RANKSxSPEEDxTHREADS"), "{message}");
        }
    }

    #[test]
    fn threads_per_rank_are_the_optional_third_number() {
        let cluster = Cluster::parse("pi1:1x0.33x4,desktop:1x1.0x7,laptop:2x1.5").unwrap();
        let specs = cluster.ranks_specs();
        assert_eq!(
            specs,
            [
                RankSpec {
                    speed: 0.33,
                    threads: 4
                },
                RankSpec {
                    speed: 1.0,
                    threads: 7
                },
                RankSpec {
                    speed: 1.5,
                    threads: 1
                },
                RankSpec {
                    speed: 1.5,
                    threads: 1
                },
            ]
        );
        assert!(cluster.threaded());
        assert_eq!(
            cluster.to_string(),
            "pi1:1x0.33x4,desktop:1x1x7,laptop:2x1.5"
        );
        assert_eq!(Cluster::parse(&cluster.to_string()).unwrap(), cluster);
    }
}
