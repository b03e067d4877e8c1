//! Scaling sweeps (`scripts/scale.sh`): the hostfile it reads, the plan of mpiruns it makes from
//! it (`triton-batch hosts`), and the `runs` table each finished run is appended to
//! (`triton-batch record-run`). Launching mpirun and timing it stay in the script; nothing here
//! runs a job.

pub mod hostfile;
pub mod runs;

use std::fmt::Write;
use std::path::Path;

pub use hostfile::{Host, Hostfile, HostfileError};

/// One mpirun of a sweep: these hosts, each with its number of ranks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub hosts: Vec<(String, usize)>,
}

impl Step {
    pub fn ranks(&self) -> usize {
        self.hosts.iter().map(|(_, n)| n).sum()
    }

    pub fn host_names(&self) -> String {
        let names: Vec<&str> = self.hosts.iter().map(|(h, _)| h.as_str()).collect();
        names.join(",")
    }

    /// mpirun's `--host` value: `pi1.local:4,pi2.local:4`.
    pub fn mpirun_hosts(&self) -> String {
        let hosts: Vec<String> = self.hosts.iter().map(|(h, n)| format!("{h}:{n}")).collect();
        hosts.join(",")
    }
}

/// The sweep over a hostfile. One host: 1, 2, …, R ranks on it. Several: the first 1, 2, …, N
/// hosts, each with R ranks. R is `ranks_per_host`, else each host's `slots`.
pub fn plan(file: &Hostfile, ranks_per_host: Option<usize>) -> Result<Vec<Step>, HostfileError> {
    let ranks: Vec<(String, usize)> = file
        .hosts
        .iter()
        .map(|host| Ok((host.name.clone(), ranks_on(file, host, ranks_per_host)?)))
        .collect::<Result<_, HostfileError>>()?;
    if let [(name, n)] = ranks.as_slice() {
        return Ok((1..=*n)
            .map(|k| Step {
                hosts: vec![(name.clone(), k)],
            })
            .collect());
    }
    Ok((1..=ranks.len())
        .map(|k| Step {
            hosts: ranks[..k].to_vec(),
        })
        .collect())
}

fn ranks_on(
    file: &Hostfile,
    host: &Host,
    ranks_per_host: Option<usize>,
) -> Result<usize, HostfileError> {
    let Some(ranks) = ranks_per_host.or(host.slots) else {
        return Err(file.host_error(
            host,
            "no slots=N to tell how many ranks it runs; add slots=N or pass --ranks-per-host",
        ));
    };
    match host.max_slots {
        Some(max) if ranks > max => Err(file.host_error(
            host,
            format!("--ranks-per-host {ranks} is more than its max_slots={max}"),
        )),
        _ => Ok(ranks),
    }
}

/// `triton-batch hosts`: the plan as text, a header comment then one tab-separated line per run:
/// hosts, ranks, host names (comma-separated), mpirun's `--host` value.
pub fn hosts(hostfile: &Path, ranks_per_host: Option<usize>) -> anyhow::Result<String> {
    let file = Hostfile::read(hostfile)?;
    let steps = plan(&file, ranks_per_host)?;
    let mut text = String::from("# hosts\tranks\thost_names\tmpirun_hosts\n");
    for step in &steps {
        writeln!(
            text,
            "{}\t{}\t{}\t{}",
            step.hosts.len(),
            step.ranks(),
            step.host_names(),
            step.mpirun_hosts()
        )?;
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn steps(text: &str, ranks_per_host: Option<usize>) -> Result<Vec<String>, String> {
        let file = Hostfile::parse(Path::new("h.txt"), text).map_err(|e| e.to_string())?;
        let steps = plan(&file, ranks_per_host).map_err(|e| e.to_string())?;
        Ok(steps.iter().map(Step::mpirun_hosts).collect())
    }

    #[test]
    fn one_host_varies_the_rank_count() {
        assert_eq!(
            steps("localhost slots=2\n", None).unwrap(),
            ["localhost:1", "localhost:2"]
        );
        assert_eq!(
            steps("localhost slots=2\n", Some(3)).unwrap(),
            ["localhost:1", "localhost:2", "localhost:3"]
        );
    }

    #[test]
    fn several_hosts_add_one_host_at_a_time_with_their_slots() {
        let file = "pi1 slots=4\npi2 slots=4\ndesktop slots=8\n";
        assert_eq!(
            steps(file, None).unwrap(),
            ["pi1:4", "pi1:4,pi2:4", "pi1:4,pi2:4,desktop:8"]
        );
        assert_eq!(
            steps(file, Some(2)).unwrap(),
            ["pi1:2", "pi1:2,pi2:2", "pi1:2,pi2:2,desktop:2"]
        );
    }

    #[test]
    fn step_counts_and_names() {
        let file = Hostfile::parse(Path::new("h.txt"), "a slots=2\nb slots=3\n").unwrap();
        let last = plan(&file, None).unwrap().pop().unwrap();
        assert_eq!((last.ranks(), last.host_names()), (5, "a,b".to_string()));
    }

    #[test]
    fn a_host_without_slots_needs_ranks_per_host() {
        assert_eq!(
            steps("a slots=2\n\nb\n", None).unwrap_err(),
            "h.txt:3: `b`: no slots=N to tell how many ranks it runs; add slots=N or pass \
             --ranks-per-host"
        );
        assert_eq!(
            steps("a slots=2\nb\n", Some(1)).unwrap(),
            ["a:1", "a:1,b:1"]
        );
    }

    #[test]
    fn ranks_per_host_respects_max_slots() {
        assert_eq!(
            steps("a slots=2 max_slots=4\n", Some(5)).unwrap_err(),
            "h.txt:1: `a slots=2 max_slots=4`: --ranks-per-host 5 is more than its max_slots=4"
        );
    }
}
