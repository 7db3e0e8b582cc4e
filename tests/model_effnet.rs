//! EfficientNet-Lite0/1/2 in burn against the PyTorch reference
//! (`tests/fixtures/effnet/`, written by `scripts/effnet_fixture.py`): the
//! legacy `.pth` reader, the derived architecture, logit parity on synthetic
//! inputs, ImageNet classes of three photos, and the loader's error paths.
//!
//! The pinned weights are not in the repository: they are looked up where
//! `oodcal` keeps them (`OODCAL_WEIGHTS_DIR`, else `<cache>/weights`) and a
//! missing file fails the test with the command that fetches it.

use std::path::{Path, PathBuf};

use burn::prelude::*;
use burn::tensor::backend::AutodiffBackend;
use burn::tensor::Distribution;
use oodcal::inputs::{Catalogue, Roots};
use oodcal::model::efficientnet_lite::{load_torch_state_dict, torch_key, LiteVariant};
use oodcal::model::{Backbone, Network};
use oodcal::weights::torch_legacy::{parse_state_dict, ReadErrorKind};
use oodcal::weights::{read_state_dict, HostTensor, Mismatch, StateDict, TorchDtype};
use serde_json::Value;

/// The crate's CPU backend without autodiff: BatchNorm uses its running
/// statistics and dropout is off, as in the reference's `eval()`.
type B = <oodcal::train::CpuBackend as AutodiffBackend>::InnerBackend;

const FETCH: &str = "oodcal fetch efficientnet-lite0 efficientnet-lite1 efficientnet-lite2";

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn fixtures() -> PathBuf {
    repo().join("tests/fixtures/effnet")
}

fn env_path(name: &str) -> Option<PathBuf> {
    std::env::var_os(name)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

/// The pinned weights file of `variant`, where `oodcal` resolves it; fails
/// (never skips) when it is absent or differs from its pin.
fn weights_file(variant: LiteVariant) -> PathBuf {
    let catalogue = Catalogue::load(&repo().join("data-manifest.toml")).expect("data manifest");
    let input = catalogue
        .get(variant.name())
        .unwrap_or_else(|| panic!("{} is not in data-manifest.toml", variant.name()));
    let roots = Roots::new(
        &repo(),
        None,
        env_path("OODCAL_WEIGHTS_DIR"),
        env_path("OODCAL_CACHE_DIR"),
    );
    let path = roots.base(input.location).join(&input.path);
    assert!(
        path.is_file(),
        "the pinned weights {} are missing: run `{FETCH}` (from the repository: \
         `cargo run -- fetch ...`), or set OODCAL_WEIGHTS_DIR to a folder that holds them",
        path.display()
    );
    let actual = oodcal::checksum::sha256_file(&path).expect("weights readable");
    let pinned = input.sha256.as_deref().expect("weights are pinned");
    assert_eq!(
        actual,
        pinned,
        "{} does not match its pin in data-manifest.toml; move it away and run `{FETCH}`",
        path.display()
    );
    path
}

fn fixture(variant: LiteVariant) -> Value {
    let file = match variant {
        LiteVariant::Lite0 => "lite0.json",
        LiteVariant::Lite1 => "lite1.json",
        LiteVariant::Lite2 => "lite2.json",
    };
    let text = std::fs::read_to_string(fixtures().join(file)).expect("fixture");
    serde_json::from_str(&text).expect("fixture is JSON")
}

fn load(variant: LiteVariant) -> Network<B> {
    variant
        .config()
        .load_pretrained::<B>(&weights_file(variant), &Default::default())
        .unwrap_or_else(|e| panic!("{e}"))
}

fn floats(v: &Value) -> Vec<f64> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|x| x.as_f64().expect("number"))
        .collect()
}

fn logits(model: &Network<B>, images: Vec<f32>, n: usize, size: usize) -> Vec<Vec<f32>> {
    let x = Tensor::<B, 4>::from_data(
        TensorData::new(images, [n, 3, size, size]),
        &Default::default(),
    );
    let out = model.forward(x).into_data().to_vec::<f32>().expect("f32");
    out.chunks(out.len() / n).map(<[f32]>::to_vec).collect()
}

/// Indices of the `k` largest values, largest first.
fn top_k(values: &[f32], k: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|&a, &b| values[b].total_cmp(&values[a]));
    order.truncate(k);
    order
}

/// Absent weights fail the test (never skip it) and say how to get them.
#[test]
fn absent_weights_fail_with_the_fetch_command() {
    let empty = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["parity_lite0", "--exact", "--test-threads", "1"])
        .env("OODCAL_WEIGHTS_DIR", empty.path())
        .output()
        .expect("the test binary runs");
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{text}");
    assert!(text.contains("1 failed"), "{text}");
    assert!(text.contains(FETCH), "{text}");
}

// ---------------------------------------------------------------- reader

/// Every key of the file, in file order, with its shape and dtype, as listed
/// by PyTorch in `keys_lite*.txt`.
#[test]
fn reader_lists_the_keys_shapes_and_dtypes_pytorch_lists() {
    for variant in LiteVariant::ALL {
        let dict = read_state_dict(&weights_file(variant)).unwrap_or_else(|e| panic!("{e}"));
        let name = variant.name().replace("efficientnet-", "keys_");
        let listing = std::fs::read_to_string(fixtures().join(format!("{name}.txt"))).unwrap();
        let expected: Vec<(String, Vec<usize>, TorchDtype)> = listing
            .lines()
            .filter(|l| !l.starts_with('#'))
            .map(|line| {
                let cols: Vec<&str> = line.split('\t').collect();
                let shape = cols[1]
                    .trim_matches(|c| c == '[' || c == ']')
                    .split(',')
                    .filter(|s| !s.is_empty())
                    .map(|s| s.parse().unwrap())
                    .collect();
                let dtype = match cols[2] {
                    "float32" => TorchDtype::F32,
                    "int64" => TorchDtype::I64,
                    other => panic!("dtype {other}"),
                };
                (cols[0].to_string(), shape, dtype)
            })
            .collect();
        let actual: Vec<(String, Vec<usize>, TorchDtype)> = dict
            .iter()
            .map(|(k, t)| (k.to_string(), t.shape.clone(), t.dtype))
            .collect();
        assert_eq!(actual, expected, "{}", variant.name());
        for (key, t) in dict.iter() {
            assert_eq!(t.data.len(), t.shape.iter().product::<usize>(), "{key}");
        }
    }
}

/// What is not a legacy torch file is rejected, not guessed at.
#[test]
fn reader_rejects_zip_files_unknown_opcodes_and_short_input() {
    let err = parse_state_dict(b"PK\x03\x04rest").unwrap_err();
    assert!(matches!(err, ReadErrorKind::ZipFormat), "{err}");
    let err = parse_state_dict(b"\x80\x02\xff").unwrap_err();
    assert!(
        matches!(
            err,
            ReadErrorKind::UnknownOpcode {
                opcode: 0xff,
                offset: 2
            }
        ),
        "{err}"
    );
    let err = parse_state_dict(b"\x80\x02X\x05\x00\x00\x00ab").unwrap_err();
    assert!(matches!(err, ReadErrorKind::Truncated { .. }), "{err}");
    // A pickle of 7 instead of the magic number.
    let err = parse_state_dict(b"\x80\x02K\x07.").unwrap_err();
    assert!(err.to_string().contains("magic number"), "{err}");
}

#[test]
fn torch_keys_underscore_module_attributes_only() {
    assert_eq!(
        torch_key("backbone.EfficientNetLite.blocks.3.depthwise_conv.weight"),
        "_blocks.3._depthwise_conv.weight"
    );
    assert_eq!(
        torch_key("backbone.EfficientNetLite.bn0.running_var"),
        "_bn0.running_var"
    );
    assert_eq!(torch_key("head.bias"), "_fc.bias");
    // A layer the reference does not have maps to no key of its files.
    assert_eq!(torch_key("adapter.weight"), "adapter.weight");
}

#[test]
fn rounding_rules_match_the_reference() {
    let lite2 = LiteVariant::Lite2.config();
    for (base, scaled) in [
        (16, 16),
        (24, 24),
        (32, 32),
        (40, 48),
        (80, 88),
        (112, 120),
        (192, 208),
        (320, 352),
    ] {
        assert_eq!(lite2.round_filters(base), scaled, "round_filters({base})");
    }
    assert_eq!(lite2.round_repeats(2), 3);
    assert_eq!(lite2.round_repeats(4), 5);
    let lite1 = LiteVariant::Lite1.config();
    assert_eq!(lite1.round_filters(40), 40);
    assert_eq!(lite1.round_repeats(3), 4);
}

/// The derived block table equals the one in the notes, and the architecture
/// the reference built (`architecture.blocks` of the fixture).
#[test]
fn derived_blocks_match_the_reference_architecture() {
    // (in, out, repeats) per stage, from tests/fixtures/effnet/NOTES.md.
    type Stage = (usize, usize, usize);
    let notes: [(LiteVariant, [Stage; 7]); 3] = [
        (
            LiteVariant::Lite0,
            [
                (32, 16, 1),
                (16, 24, 2),
                (24, 40, 2),
                (40, 80, 3),
                (80, 112, 3),
                (112, 192, 4),
                (192, 320, 1),
            ],
        ),
        (
            LiteVariant::Lite1,
            [
                (32, 16, 1),
                (16, 24, 3),
                (24, 40, 3),
                (40, 80, 4),
                (80, 112, 4),
                (112, 192, 5),
                (192, 320, 1),
            ],
        ),
        (
            LiteVariant::Lite2,
            [
                (32, 16, 1),
                (16, 24, 3),
                (24, 48, 3),
                (48, 88, 4),
                (88, 120, 4),
                (120, 208, 5),
                (208, 352, 1),
            ],
        ),
    ];
    let kernels = [3, 3, 5, 3, 5, 5, 3];
    let strides = [1, 2, 2, 2, 1, 2, 1];
    for (variant, stages) in notes {
        let blocks = variant.config().blocks();
        let mut expected = Vec::new();
        for (s, &(input, output, repeats)) in stages.iter().enumerate() {
            for r in 0..repeats {
                let (i, stride) = if r == 0 {
                    (input, strides[s])
                } else {
                    (output, 1)
                };
                let expand = if s == 0 { 1 } else { 6 };
                expected.push((i, output, expand, kernels[s], stride));
            }
        }
        let derived: Vec<_> = blocks
            .iter()
            .map(|b| (b.input, b.output, b.expand, b.kernel, b.stride))
            .collect();
        assert_eq!(derived, expected, "{} against the notes", variant.name());

        let arch = &fixture(variant)["architecture"];
        let reference: Vec<_> = arch["blocks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| {
                let n = |k: &str| b[k].as_u64().unwrap() as usize;
                let skip = b["skip"].as_bool().unwrap();
                (
                    n("in"),
                    n("out"),
                    n("expand_ratio"),
                    n("kernel"),
                    n("stride"),
                    skip,
                )
            })
            .collect();
        let ours: Vec<_> = blocks
            .iter()
            .map(|b| (b.input, b.output, b.expand, b.kernel, b.stride, b.skip))
            .collect();
        assert_eq!(ours, reference, "{} against the reference", variant.name());
        let config = variant.config();
        assert_eq!(
            config.image_size as u64,
            arch["image_size"].as_u64().unwrap()
        );
        assert_eq!(config.dropout, arch["dropout_rate"].as_f64().unwrap());
        let head_in = arch["head"]["in"].as_u64().unwrap() as usize;
        assert_eq!(head_in, blocks.last().unwrap().output);
    }
}

// ---------------------------------------------------------------- parity

/// `float32(1.5 * sin(0.37*x + 0.11*y*(c+1) + n))`, NCHW, evaluated in f64
/// left to right as the fixture README says.
fn synthetic_input(n: usize, size: usize) -> Vec<f32> {
    let mut out = Vec::with_capacity(3 * size * size);
    for c in 0..3 {
        for y in 0..size {
            for x in 0..size {
                let t = 0.37 * x as f64 + 0.11 * y as f64 * (c + 1) as f64 + n as f64;
                out.push((1.5 * t.sin()) as f32);
            }
        }
    }
    out
}

fn parity(variant: LiteVariant) {
    let fixture = fixture(variant);
    let size = fixture["native_resolution"].as_u64().unwrap() as usize;
    let outputs = fixture["outputs"].as_array().unwrap();
    let mut images = Vec::new();
    for out in outputs {
        let n = out["n"].as_u64().unwrap() as usize;
        let input = synthetic_input(n, size);
        // The input first: sum, first values, two sampled values.
        let sum: f64 = input.iter().map(|&v| f64::from(v)).sum();
        let stored = out["input_sum"].as_f64().unwrap();
        assert!(
            (sum - stored).abs() < 1e-6,
            "input {n}: sum {sum} vs {stored}"
        );
        for (i, v) in floats(&out["input_first"]).iter().enumerate() {
            assert_eq!(input[i], *v as f32, "input {n}, value {i}");
        }
        let at = &out["input_at"];
        for (idx, v) in at["n,c,y,x"]
            .as_array()
            .unwrap()
            .iter()
            .zip(floats(&at["values"]))
        {
            let [_, c, y, x] = <[usize; 4]>::try_from(
                idx.as_array()
                    .unwrap()
                    .iter()
                    .map(|i| i.as_u64().unwrap() as usize)
                    .collect::<Vec<_>>(),
            )
            .unwrap();
            assert_eq!(
                input[(c * size + y) * size + x],
                v as f32,
                "input {n} at {idx}"
            );
        }
        images.extend(input);
    }

    let model = load(variant);
    let ours = logits(&model, images, outputs.len(), size);
    for (out, ours) in outputs.iter().zip(&ours) {
        let reference = floats(&out["logits"]);
        assert_eq!(reference.len(), 1000);
        let max_diff = reference
            .iter()
            .zip(ours)
            .map(|(r, o)| (r - f64::from(*o)).abs())
            .fold(0.0, f64::max);
        println!(
            "{} input {}: max |logit - reference| = {max_diff:.3e}",
            variant.name(),
            out["n"]
        );
        assert!(
            max_diff <= 1e-4,
            "{} input {}: max |logit - reference| = {max_diff:e} > 1e-4",
            variant.name(),
            out["n"]
        );
        let top5: Vec<usize> = out["top5"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap() as usize)
            .collect();
        assert_eq!(
            top_k(ours, 5),
            top5,
            "{} input {}",
            variant.name(),
            out["n"]
        );
    }
}

#[test]
fn parity_lite0() {
    parity(LiteVariant::Lite0);
}

#[test]
fn parity_lite1() {
    parity(LiteVariant::Lite1);
}

#[test]
fn parity_lite2() {
    parity(LiteVariant::Lite2);
}

// ---------------------------------------------------------------- photos

const PHOTOS: [&str; 3] = ["chelsea", "coffee", "rocket"];
const MEAN: [f32; 3] = [0.485, 0.456, 0.406];
const STD: [f32; 3] = [0.229, 0.224, 0.225];

/// A stored crop as the model's input: `(v / 255 - mean) / std`, CHW.
fn photo_input(path: &Path, size: usize) -> Vec<f32> {
    let img = image::open(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .to_rgb8();
    assert_eq!(
        img.dimensions(),
        (size as u32, size as u32),
        "{}",
        path.display()
    );
    let mut out = vec![0.0; 3 * size * size];
    for (x, y, pixel) in img.enumerate_pixels() {
        for c in 0..3 {
            let v = f32::from(pixel[c]) / 255.0;
            out[(c * size + y as usize) * size + x as usize] = (v - MEAN[c]) / STD[c];
        }
    }
    out
}

fn photos(variant: LiteVariant) {
    let text = std::fs::read_to_string(fixtures().join("photos.json")).unwrap();
    let fixture: Value = serde_json::from_str(&text).unwrap();
    let names = std::fs::read_to_string(fixtures().join("imagenet_classes.txt")).unwrap();
    let names: Vec<&str> = names.lines().collect();
    assert_eq!(names.len(), 1000);
    let size = variant.config().image_size;

    let mut images = Vec::new();
    let mut expected = Vec::new();
    for photo in PHOTOS {
        let entry = &fixture["photos"][photo]["models"][variant.name()];
        let file = fixtures().join(entry["input"].as_str().unwrap());
        let sha = oodcal::checksum::sha256_file(&file).unwrap();
        assert_eq!(
            sha,
            entry["input_sha256"].as_str().unwrap(),
            "{}",
            file.display()
        );
        images.extend(photo_input(&file, size));
        let top5: Vec<usize> = entry["top5"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["index"].as_u64().unwrap() as usize)
            .collect();
        expected.push(top5);
    }

    let model = load(variant);
    let all = logits(&model, images, PHOTOS.len(), size);
    for ((photo, ours), reference) in PHOTOS.iter().zip(&all).zip(&expected) {
        let top5 = top_k(ours, 5);
        let max = ours[top5[0]];
        let total: f32 = ours.iter().map(|&l| (l - max).exp()).sum();
        let shown: Vec<String> = top5
            .iter()
            .map(|&i| format!("{} {:.3}", names[i], (ours[i] - max).exp() / total))
            .collect();
        println!("{} {photo}: {}", variant.name(), shown.join(" | "));
        assert_eq!(
            top5[0],
            reference[0],
            "{} {photo}: top-1 {} ({}) instead of {} ({})",
            variant.name(),
            top5[0],
            names[top5[0]],
            reference[0],
            names[reference[0]]
        );
        let overlap = top5.iter().filter(|i| reference.contains(i)).count();
        assert!(
            overlap >= 4,
            "{} {photo}: top-5 {top5:?} shares {overlap} classes with the reference {reference:?}",
            variant.name()
        );
    }
}

#[test]
fn photos_lite0() {
    photos(LiteVariant::Lite0);
}

#[test]
fn photos_lite1() {
    photos(LiteVariant::Lite1);
}

#[test]
fn photos_lite2() {
    photos(LiteVariant::Lite2);
}

// ---------------------------------------------------------------- errors

fn lite0_dict() -> StateDict {
    read_state_dict(&weights_file(LiteVariant::Lite0)).unwrap_or_else(|e| panic!("{e}"))
}

fn load_dict(dict: &StateDict) -> Result<(), oodcal::weights::LoadError> {
    let model = LiteVariant::Lite0
        .config()
        .init_network::<B>(&Default::default());
    load_torch_state_dict(model, dict, "edited lite0").map(|_| ())
}

#[test]
fn a_missing_key_is_named() {
    let mut dict = lite0_dict();
    let key = "_blocks.3._depthwise_conv.weight";
    dict.remove(key).expect("key present");
    let err = load_dict(&dict).expect_err("a key is missing");
    let message = err.to_string();
    println!("{message}");
    assert!(message.contains(key), "{message}");
    assert!(message.contains("[144, 1, 5, 5]"), "{message}");
    assert_eq!(
        err.mismatches,
        vec![Mismatch::Missing {
            key: key.into(),
            param: "backbone.EfficientNetLite.blocks.3.depthwise_conv.weight".into(),
            shape: vec![144, 1, 5, 5],
        }]
    );
}

#[test]
fn an_extra_key_is_named() {
    let mut dict = lite0_dict();
    let key = "_blocks.16._bn1.weight";
    dict.insert(key, HostTensor::new(vec![8], vec![1.0; 8]));
    let err = load_dict(&dict).expect_err("an extra key");
    let message = err.to_string();
    println!("{message}");
    assert!(message.contains(key), "{message}");
    assert_eq!(err.mismatches.len(), 1, "{message}");
    assert!(matches!(&err.mismatches[0], Mismatch::Unused { key: k, .. } if k == key));
}

#[test]
fn a_wrong_shape_is_named_with_both_shapes() {
    let mut dict = lite0_dict();
    let key = "_conv_head.weight";
    dict.insert(
        key,
        HostTensor::new(vec![1280, 320, 3, 1], vec![0.0; 1280 * 320 * 3]),
    );
    let err = load_dict(&dict).expect_err("a wrong shape");
    let message = err.to_string();
    println!("{message}");
    assert!(message.contains(key), "{message}");
    assert!(message.contains("[1280, 320, 3, 1]"), "{message}");
    assert!(message.contains("[1280, 320, 1, 1]"), "{message}");
    assert_eq!(err.mismatches.len(), 1, "{message}");
}

#[test]
fn the_unchanged_dict_loads_and_the_classifier_is_transposed() {
    let dict = lite0_dict();
    let model = LiteVariant::Lite0
        .config()
        .init_network::<B>(&Default::default());
    let model = load_torch_state_dict(model, &dict, "lite0").unwrap_or_else(|e| panic!("{e}"));
    // burn's Linear holds [in, out]; PyTorch's _fc.weight is [out, in].
    let fc = dict.get("_fc.weight").unwrap();
    let ours = model.head.weight.val().into_data().to_vec::<f32>().unwrap();
    assert_eq!(model.head.weight.dims(), [1280, 1000]);
    for (o, i) in [(0, 0), (3, 7), (999, 1279)] {
        assert_eq!(ours[i * 1000 + o], fc.data[o * 1280 + i]);
    }
}

#[test]
fn a_truncated_file_is_a_reader_error_naming_the_file() {
    let bytes = std::fs::read(weights_file(LiteVariant::Lite0)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    // Cut inside the raw storages, and inside the state-dict pickle.
    for (name, len) in [("half.pth", bytes.len() / 2), ("head.pth", 1000)] {
        let path = dir.path().join(name);
        std::fs::write(&path, &bytes[..len]).unwrap();
        let err = read_state_dict(&path).expect_err("truncated");
        let message = err.to_string();
        println!("{message}");
        assert!(message.contains(&path.display().to_string()), "{message}");
        assert!(message.contains("truncated"), "{message}");
    }
    // One byte too many is not ignored either.
    let path = dir.path().join("long.pth");
    std::fs::write(&path, [bytes.as_slice(), &[0]].concat()).unwrap();
    let message = read_state_dict(&path).expect_err("trailing").to_string();
    assert!(message.contains("after the last storage"), "{message}");
}

// ---------------------------------------------------------------- training

/// On an autodiff backend (training: batch statistics, dropout, drop-connect)
/// the network runs at a size other than its native one and back-propagates.
#[test]
fn trains_on_the_autodiff_backend_at_another_resolution() {
    type A = oodcal::train::CpuBackend;
    let device = Default::default();
    let model = LiteVariant::Lite0.config().init_network::<A>(&device);
    let Backbone::EfficientNetLite(net) = &model.backbone else {
        panic!("an EfficientNet-Lite network has an EfficientNet-Lite backbone");
    };
    let images = Tensor::<A, 4>::random([2, 3, 64, 64], Distribution::Normal(0.0, 1.0), &device);
    let features = net.features(images.clone());
    assert_eq!(features.dims(), [2, 1280]);
    let logits = model.forward(images);
    assert_eq!(logits.dims(), [2, 1000]);
    let grads = logits.sum().backward();
    let grad = model
        .head
        .weight
        .grad(&grads)
        .expect("the head's weight has a gradient");
    assert_eq!(grad.dims(), [1280, 1000]);
    let stem = net
        .conv_stem
        .weight
        .grad(&grads)
        .expect("stem has a gradient");
    let norm: f32 = stem.abs().sum().into_scalar().elem();
    assert!(norm.is_finite() && norm > 0.0, "stem gradient {norm}");
}

/// `oodcal predict` with the pinned weights names the same top-1 class for
/// each photograph as the reference's fixture (and the test above).
#[test]
fn predict_names_the_reference_top1_class_of_each_photograph() {
    let text = std::fs::read_to_string(fixtures().join("photos.json")).unwrap();
    let fixture: Value = serde_json::from_str(&text).unwrap();
    let names = std::fs::read_to_string(fixtures().join("imagenet_classes.txt")).unwrap();
    let names: Vec<&str> = names.lines().collect();
    for variant in LiteVariant::ALL {
        for photo in PHOTOS {
            let entry = &fixture["photos"][photo]["models"][variant.name()];
            let image = fixtures().join(entry["input"].as_str().unwrap());
            let top1 = entry["top5"][0]["index"].as_u64().unwrap() as usize;
            let run = std::process::Command::new(env!("CARGO_BIN_EXE_oodcal"))
                .args(["predict", variant.name(), "--top", "1", "--weights"])
                .arg(weights_file(variant))
                .arg(&image)
                .output()
                .unwrap();
            assert!(
                run.status.success(),
                "{}",
                String::from_utf8_lossy(&run.stderr)
            );
            let printed = String::from_utf8_lossy(&run.stdout);
            let expected = format!("{top1:>5}  p = ");
            assert!(
                printed.contains(&expected) && printed.contains(names[top1]),
                "{} {photo}: expected class {top1} ({}) in\n{printed}",
                variant.name(),
                names[top1]
            );
        }
    }
}
