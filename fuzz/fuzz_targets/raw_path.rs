#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    calimero_client_core::fuzzing::raw_path(data);
});
