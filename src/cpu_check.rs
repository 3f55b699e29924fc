//! Refuses to start on a CPU that lacks instructions the build was compiled for, with a message instead of a
//! SIGILL.
//!
//! `.cargo/config.toml` builds for x86-64-v3 (AVX2, FMA, BMI2…; candle chooses its quantized kernels at run
//! time, bench/results/cpu-dispatch.md). Such a binary copied to an older or emulated CPU (QEMU's default
//! `qemu64` model has no AVX) would die at the compiler's first AVX2 or BMI2 instruction,
//! anywhere, possibly mid-call. This check runs before `main`, from `.init_array`, and reads CPUID itself:
//! with the features enabled at build time, `is_x86_feature_detected!` answers "yes" without asking the CPU.
//! A build for the x86-64 baseline enables nothing beyond SSE2 and the check is then empty.
//!
//! The check is compiled with the build's features like any other code, so it keeps to what every x86-64
//! executes: CPUID, tests of constant masks (no variable shifts, which BMI2 builds emit as `shlx`) kept from
//! vectorisation, and calls into the standard library, which is compiled for the baseline. (Inspected in the
//! debug build: no VEX-encoded or BMI instruction in it or the core functions it calls.)

/// One CPU feature the compiler may use: its `target_feature` name and its bit in [`Features`].
struct Feature {
    name: &'static str,
    bit: u32,
    enabled_at_build: bool,
}

/// CPU features as bits (our numbering, see [`FEATURES`]).
type Features = u32;

const SSE3: u32 = 1;
const SSSE3: u32 = 1 << 1;
const SSE4_1: u32 = 1 << 2;
const SSE4_2: u32 = 1 << 3;
const POPCNT: u32 = 1 << 4;
const CMPXCHG16B: u32 = 1 << 5;
const AVX: u32 = 1 << 6;
const AVX2: u32 = 1 << 7;
const FMA: u32 = 1 << 8;
const F16C: u32 = 1 << 9;
const BMI1: u32 = 1 << 10;
const BMI2: u32 = 1 << 11;
const LZCNT: u32 = 1 << 12;
const MOVBE: u32 = 1 << 13;
const XSAVE: u32 = 1 << 14;
const AVX512F: u32 = 1 << 15;

/// The x86-64-v2 and -v3 features (what `-C target-cpu=x86-64-v3` enables), and AVX-512F (a
/// `target-cpu=native` build on a server CPU).
const FEATURES: [Feature; 16] = [
    Feature { name: "sse3", bit: SSE3, enabled_at_build: cfg!(target_feature = "sse3") },
    Feature { name: "ssse3", bit: SSSE3, enabled_at_build: cfg!(target_feature = "ssse3") },
    Feature { name: "sse4.1", bit: SSE4_1, enabled_at_build: cfg!(target_feature = "sse4.1") },
    Feature { name: "sse4.2", bit: SSE4_2, enabled_at_build: cfg!(target_feature = "sse4.2") },
    Feature { name: "popcnt", bit: POPCNT, enabled_at_build: cfg!(target_feature = "popcnt") },
    Feature { name: "cmpxchg16b", bit: CMPXCHG16B, enabled_at_build: cfg!(target_feature = "cmpxchg16b") },
    Feature { name: "avx", bit: AVX, enabled_at_build: cfg!(target_feature = "avx") },
    Feature { name: "avx2", bit: AVX2, enabled_at_build: cfg!(target_feature = "avx2") },
    Feature { name: "fma", bit: FMA, enabled_at_build: cfg!(target_feature = "fma") },
    Feature { name: "f16c", bit: F16C, enabled_at_build: cfg!(target_feature = "f16c") },
    Feature { name: "bmi1", bit: BMI1, enabled_at_build: cfg!(target_feature = "bmi1") },
    Feature { name: "bmi2", bit: BMI2, enabled_at_build: cfg!(target_feature = "bmi2") },
    Feature { name: "lzcnt", bit: LZCNT, enabled_at_build: cfg!(target_feature = "lzcnt") },
    Feature { name: "movbe", bit: MOVBE, enabled_at_build: cfg!(target_feature = "movbe") },
    Feature { name: "xsave", bit: XSAVE, enabled_at_build: cfg!(target_feature = "xsave") },
    Feature { name: "avx512f", bit: AVX512F, enabled_at_build: cfg!(target_feature = "avx512f") },
];

/// The features this binary was compiled to use.
const fn built_for() -> Features {
    let mut bits = 0;
    let mut i = 0;
    while i < FEATURES.len() {
        if FEATURES[i].enabled_at_build {
            bits |= FEATURES[i].bit;
        }
        i += 1;
    }
    bits
}

/// What CPUID reports, as the registers that hold the features above.
#[derive(Debug, Clone, Copy, Default)]
struct CpuId {
    /// Leaf 1, ECX.
    leaf1_ecx: u32,
    /// Leaf 7 sub-leaf 0, EBX (0 when the CPU has no leaf 7).
    leaf7_ebx: u32,
    /// Leaf 0x8000_0001, ECX (0 when absent).
    extended_ecx: u32,
    /// XCR0 (0 unless the OS enabled XSAVE): whether the OS saves the YMM and ZMM registers.
    xcr0: u64,
}

/// The features `cpu` offers. AVX and what builds on it count only if the OS saves the YMM registers
/// (XCR0 bits 1 and 2), AVX-512 only if it also saves the ZMM state (bits 5 to 7).
fn features_of(cpu: CpuId) -> Features {
    // Each test passes through `black_box` (an optimisation barrier), so the optimiser cannot vectorise these
    // tests into AVX2 instructions on a CPU that may not have them.
    let has = |register: u32, bit: u32| std::hint::black_box(register & bit) != 0;
    let ymm = cpu.xcr0 & 0b110 == 0b110 && has(cpu.leaf1_ecx, 1 << 27);
    let zmm = ymm && cpu.xcr0 & 0b1110_0000 == 0b1110_0000;
    let mut features = 0;
    let leaf1 = [
        (1 << 0, SSE3),
        (1 << 9, SSSE3),
        (1 << 13, CMPXCHG16B),
        (1 << 19, SSE4_1),
        (1 << 20, SSE4_2),
        (1 << 22, MOVBE),
        (1 << 23, POPCNT),
        (1 << 26, XSAVE),
    ];
    for (cpuid_bit, feature) in leaf1 {
        if has(cpu.leaf1_ecx, cpuid_bit) {
            features |= feature;
        }
    }
    if ymm {
        for (cpuid_bit, feature) in [(1 << 28, AVX), (1 << 12, FMA), (1 << 29, F16C)] {
            if has(cpu.leaf1_ecx, cpuid_bit) {
                features |= feature;
            }
        }
        if has(cpu.leaf7_ebx, 1 << 5) {
            features |= AVX2;
        }
    }
    if zmm && has(cpu.leaf7_ebx, 1 << 16) {
        features |= AVX512F;
    }
    if has(cpu.leaf7_ebx, 1 << 3) {
        features |= BMI1;
    }
    if has(cpu.leaf7_ebx, 1 << 8) {
        features |= BMI2;
    }
    if has(cpu.extended_ecx, 1 << 5) {
        features |= LZCNT;
    }
    features
}

/// The features a build for `built_for` needs and a CPU with `has` lacks.
fn missing(built_for: Features, has: Features) -> Features {
    built_for & !has
}

/// Reads CPUID (and XCR0 when the OS enabled XSAVE).
fn read_cpuid() -> CpuId {
    use std::arch::x86_64::__cpuid_count;
    let max_leaf = __cpuid_count(0, 0).eax;
    let leaf1_ecx = __cpuid_count(1, 0).ecx;
    let leaf7_ebx = if max_leaf >= 7 { __cpuid_count(7, 0).ebx } else { 0 };
    let max_extended = __cpuid_count(0x8000_0000, 0).eax;
    let extended_ecx = if max_extended >= 0x8000_0001 { __cpuid_count(0x8000_0001, 0).ecx } else { 0 };
    // SAFETY: XGETBV exists when CPUID says the OS enabled XSAVE (OSXSAVE, leaf 1 ECX bit 27).
    let xcr0 = if leaf1_ecx & (1 << 27) != 0 { unsafe { xcr0() } } else { 0 };
    CpuId { leaf1_ecx, leaf7_ebx, extended_ecx, xcr0 }
}

/// # Safety
/// The CPU must support XGETBV (CPUID.1:ECX.OSXSAVE).
#[target_feature(enable = "xsave")]
unsafe fn xcr0() -> u64 {
    std::arch::x86_64::_xgetbv(0)
}

/// Runs before `main` (see the module's comment): a build that needs nothing beyond the baseline returns at
/// once; otherwise a CPU lacking any feature the build uses gets a message on stderr and exit status 1.
extern "C" fn refuse_a_cpu_without_the_builds_features() {
    const BUILT_FOR: Features = built_for();
    if BUILT_FOR == 0 {
        return;
    }
    let lacking = missing(BUILT_FOR, features_of(read_cpuid()));
    if lacking == 0 {
        return;
    }
    use std::io::Write as _;
    use std::os::fd::FromRawFd as _;
    // Static pieces only (formatting code compiled for the build's features could itself be the SIGILL),
    // written straight to file descriptor 2: before `main`, the standard library's stderr is best left alone.
    // SAFETY: descriptor 2 is open for the process's life; ManuallyDrop keeps this handle from closing it.
    let mut stderr = std::mem::ManuallyDrop::new(unsafe { std::fs::File::from_raw_fd(2) });
    let _ = stderr.write_all(b"voicera: this CPU lacks instructions this build was compiled for:");
    for feature in &FEATURES {
        if lacking & feature.bit != 0 {
            let _ = stderr.write_all(b" ");
            let _ = stderr.write_all(feature.name.as_bytes());
        }
    }
    let _ = stderr.write_all(
        b".\nBuilds target x86-64-v3 by default (.cargo/config.toml). For this CPU, build for the x86-64 baseline: \
          RUSTFLAGS=\"-C target-cpu=x86-64\" GGML_AVX=OFF GGML_AVX2=OFF GGML_FMA=OFF GGML_F16C=OFF GGML_BMI2=OFF \
          GGML_SSE42=OFF cargo build --release, or use the image built by docker/Dockerfile (portable by default). \
          README: \"CPU requirements\".\n",
    );
    let _ = stderr.flush();
    std::process::exit(1);
}

/// What this CPU loses, for the operator (logged once at start), or `None` when it has AVX2 and FMA. Only a
/// build for an older baseline gets here on such a CPU (a v3 build stops before `main`): candle's local models
/// then run their SSE kernels and whisper.cpp, unless built for this CPU too, cannot load.
pub(crate) fn what_this_cpu_loses() -> Option<String> {
    let lacking = missing(AVX2 | FMA, features_of(read_cpuid()));
    if lacking == 0 {
        return None;
    }
    let names: Vec<&str> = FEATURES.iter().filter(|f| lacking & f.bit != 0).map(|f| f.name).collect();
    Some(format!(
        "this CPU lacks {}: the local LLM and candle's Whisper run their SSE kernels, slower \
         (bench/results/cpu-dispatch.md), and whisper.cpp (whisper_backend = \"whisper.cpp\") cannot load unless \
         built for this CPU (GGML_AVX2=OFF …); cloud providers and the media path are unaffected",
        names.join(", ")
    ))
}

/// Registers the check to run before `main`, as C constructors do.
#[used]
#[link_section = ".init_array"]
static REFUSE_A_CPU_WITHOUT_THE_BUILDS_FEATURES: extern "C" fn() = refuse_a_cpu_without_the_builds_features;

#[cfg(test)]
mod tests {
    use super::*;

    /// CPUID of a Haswell-class CPU (x86-64-v3) with the OS saving YMM state.
    const HASWELL: CpuId = CpuId {
        leaf1_ecx: 1
            | 1 << 9
            | 1 << 12
            | 1 << 13
            | 1 << 19
            | 1 << 20
            | 1 << 22
            | 1 << 23
            | 1 << 26
            | 1 << 27
            | 1 << 28
            | 1 << 29,
        leaf7_ebx: 1 << 3 | 1 << 5 | 1 << 8,
        extended_ecx: 1 << 5,
        xcr0: 0b111,
    };

    /// What `-C target-cpu=x86-64-v3` enables, as listed in rustc's target definitions.
    const V3: Features = SSE3
        | SSSE3
        | SSE4_1
        | SSE4_2
        | POPCNT
        | CMPXCHG16B
        | AVX
        | AVX2
        | FMA
        | F16C
        | BMI1
        | BMI2
        | LZCNT
        | MOVBE
        | XSAVE;

    fn names(bits: Features) -> Vec<&'static str> {
        FEATURES.iter().filter(|f| bits & f.bit != 0).map(|f| f.name).collect()
    }

    #[test]
    fn a_v3_cpu_runs_a_v3_build() {
        assert_eq!(features_of(HASWELL), V3);
        assert_eq!(missing(V3, features_of(HASWELL)), 0);
        assert_eq!(names(missing(V3 | AVX512F, features_of(HASWELL))), ["avx512f"], "a native build from a server");
    }

    /// QEMU's `qemu64` model: SSE3 and CMPXCHG16B, no SSSE3 and nothing later.
    #[test]
    fn an_emulated_baseline_cpu_is_told_what_it_lacks() {
        let qemu64 = CpuId { leaf1_ecx: 1 | 1 << 13, leaf7_ebx: 0, extended_ecx: 0, xcr0: 0 };
        assert_eq!(
            names(missing(V3, features_of(qemu64))),
            [
                "ssse3", "sse4.1", "sse4.2", "popcnt", "avx", "avx2", "fma", "f16c", "bmi1", "bmi2", "lzcnt", "movbe",
                "xsave"
            ]
        );
        assert_eq!(missing(0, features_of(qemu64)), 0, "a baseline build runs anywhere");
    }

    /// A CPU with AVX2 whose OS does not save the YMM registers (XCR0 without bit 2) cannot use AVX.
    #[test]
    fn avx_needs_the_os_to_save_ymm_registers() {
        let no_ymm = CpuId { xcr0: 0b011, ..HASWELL };
        assert_eq!(names(missing(V3, features_of(no_ymm))), ["avx", "avx2", "fma", "f16c"]);
        let no_osxsave = CpuId { leaf1_ecx: HASWELL.leaf1_ecx & !(1 << 27), ..HASWELL };
        assert_eq!(names(missing(V3, features_of(no_osxsave))), ["avx", "avx2", "fma", "f16c"]);
        let no_zmm = CpuId { leaf7_ebx: HASWELL.leaf7_ebx | 1 << 16, ..HASWELL };
        assert_eq!(names(missing(AVX512F, features_of(no_zmm))), ["avx512f"]);
        let zmm = CpuId { xcr0: 0b1110_0111, ..no_zmm };
        assert_eq!(missing(AVX512F, features_of(zmm)), 0);
    }

    #[test]
    fn the_operator_is_told_what_a_cpu_without_avx2_loses() {
        assert_eq!(missing(AVX2 | FMA, features_of(HASWELL)), 0);
        let no_avx = CpuId { xcr0: 0, ..HASWELL };
        assert_eq!(names(missing(AVX2 | FMA, features_of(no_avx))), ["avx2", "fma"]);
    }

    /// This build's needs are what the compiler was told, and the machine running the tests has them (or
    /// the test binary would not have got here).
    #[test]
    fn this_machine_has_what_this_build_needs() {
        assert_eq!(built_for() & AVX2 != 0, cfg!(target_feature = "avx2"));
        assert_eq!(missing(built_for(), features_of(read_cpuid())), 0);
    }
}
