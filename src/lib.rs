//! triton-batch: batch jobs (Monte Carlo pricing, grid search, random forests) spread over the ranks
//! of an MPI job, with results written to HDF5 tables that pandas and `triton-batch show` read.
//!
//! The library holds all logic so that tests call it directly; `main.rs` only parses, runs and
//! reports. MPI lives in `runtime`; algorithms (`mc`) know nothing of it.

pub mod mc;
pub mod report;
pub mod results;
pub mod rng;
