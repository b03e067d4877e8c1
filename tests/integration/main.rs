//! Every integration test in one binary (one link instead of one per file): each module runs the
//! real `triton-batch` through mpirun and reads back what it wrote. `common` holds the helpers.

mod common;

mod cluster;
mod forest;
mod full_disk;
mod gridsearch;
mod halving;
mod interrupt;
mod kill;
mod liveness;
mod montecarlo;
mod pandas_reads;
mod plots;
mod predict;
mod random_search;
mod scaling;
mod simulate;
mod sizes;
mod threads;
