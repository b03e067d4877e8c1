#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| triton_batch::fuzzing::tasklog(data));
