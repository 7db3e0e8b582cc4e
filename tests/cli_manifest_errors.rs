//! Malformed study manifests: one clear error with file:line:column each,
//! and a non-zero exit.

mod common;

use common::{oodcal, repo, run};
use std::path::Path;

/// Writes `text` as a study manifest and runs `oodcal plan` on it.
fn plan_text(dir: &Path, text: &str) -> common::Run {
    let file = dir.join("study.toml");
    std::fs::write(&file, text).unwrap();
    run(oodcal(dir).arg("plan").arg(&file))
}

fn quick() -> String {
    std::fs::read_to_string(repo().join("experiments/quick.toml")).unwrap()
}

/// `text` with its first line starting with `key = ` replaced by `line`
/// (independent of the value the shipped manifest happens to have).
fn with_line(text: &str, key: &str, line: &str) -> String {
    let prefix = format!("{key} = ");
    let old = text
        .lines()
        .find(|l| l.starts_with(&prefix))
        .unwrap_or_else(|| panic!("no `{prefix}` line"));
    text.replacen(old, line, 1)
}

/// 1-based line of the first occurrence of `needle` in `text`.
fn line_of(text: &str, needle: &str) -> usize {
    text.lines()
        .position(|l| l.contains(needle))
        .expect("needle present")
        + 1
}

/// `quick.toml` with one more `[[model]]` (see [`with_model_text`]).
fn with_model(fields: &[(&str, &str)]) -> (String, Vec<usize>) {
    with_model_text(&quick(), fields)
}

fn assert_located(out: &common::Run, line: usize, col: usize, words: &str) {
    assert_ne!(out.code, 0, "should fail: {}", out.stdout);
    let msg = out.stderr.trim();
    assert_eq!(msg.lines().count(), 1, "one error line expected: {msg}");
    assert!(
        msg.contains(&format!("study.toml:{line}:{col}:")),
        "expected study.toml:{line}:{col} in: {msg}"
    );
    assert!(msg.contains(words), "expected `{words}` in: {msg}");
}

#[test]
fn unknown_key() {
    let dir = tempfile::tempdir().unwrap();
    let text = with_line(&quick(), "steps", "steps = 40\nstepz = 3");
    let out = plan_text(dir.path(), &text);
    assert_located(&out, line_of(&text, "stepz"), 1, "unknown field `stepz`");
}

#[test]
fn wrong_type() {
    let dir = tempfile::tempdir().unwrap();
    let text = with_line(&quick(), "eval_every", "eval_every = \"twenty\"");
    let out = plan_text(dir.path(), &text);
    assert_located(&out, line_of(&text, "eval_every"), 14, "invalid type");
}

#[test]
fn dataset_not_in_data_manifest() {
    let dir = tempfile::tempdir().unwrap();
    let text = quick().replacen("dataset = \"glyph-dg\"", "dataset = \"ImageNet-A\"", 1);
    let out = plan_text(dir.path(), &text);
    assert_located(
        &out,
        line_of(&text, "ImageNet-A"),
        11,
        "dataset `ImageNet-A` is not in",
    );
}

#[test]
fn duplicate_model() {
    let dir = tempfile::tempdir().unwrap();
    let (text, lines) = with_model(&[("name", "vit-tiny"), ("family", "vit"), ("size", "tiny")]);
    let out = plan_text(dir.path(), &text);
    assert_located(&out, lines[0], 8, "model `vit-tiny` is declared twice");
}

#[test]
fn path_escaping_the_repository() {
    let dir = tempfile::tempdir().unwrap();
    let text = quick().replacen("runs_dir = \"runs/quick\"", "runs_dir = \"../../etc\"", 1);
    let out = plan_text(dir.path(), &text);
    assert_located(&out, line_of(&text, "runs_dir"), 12, "without `..`");
}

#[test]
fn unknown_pretrain_reference() {
    let dir = tempfile::tempdir().unwrap();
    let text = quick().replacen(
        "pretrain = \"corpus-8k-cutmix\"",
        "pretrain = \"corpus-9k\"",
        1,
    );
    let out = plan_text(dir.path(), &text);
    assert_located(
        &out,
        line_of(&text, "corpus-9k"),
        12,
        "pretrain `corpus-9k` is not a [[pretrain]]",
    );
}

#[test]
fn malformed_data_manifest_is_located_too() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(repo().join("data-manifest.toml"))
        .unwrap()
        .replacen("path = \"PACS\"", "path = \"../PACS\"", 1);
    let manifest = dir.path().join("data-manifest.toml");
    std::fs::write(&manifest, &text).unwrap();
    let out = run(oodcal(dir.path())
        .arg("verify")
        .arg("--manifest")
        .arg(&manifest));
    assert_ne!(out.code, 0);
    let line = line_of(&text, "\"../PACS\"");
    assert!(
        out.stderr
            .contains(&format!("data-manifest.toml:{line}:8:")),
        "{}",
        out.stderr
    );
}

#[test]
fn size_the_family_lacks() {
    let dir = tempfile::tempdir().unwrap();
    let (text, lines) = with_model(&[("name", "odd"), ("family", "resnet"), ("size", "lite0")]);
    let out = plan_text(dir.path(), &text);
    assert_located(&out, lines[0], 8, "unknown model `resnet-lite0`");
}

#[test]
fn downloaded_weights_on_a_quick_zoo_model() {
    let dir = tempfile::tempdir().unwrap();
    let (text, lines) = with_model(&[
        ("name", "odd"),
        ("family", "resnet"),
        ("size", "tiny"),
        ("weights", "efficientnet-lite0"),
    ]);
    let out = plan_text(dir.path(), &text);
    assert_located(&out, lines[3], 11, "load into efficientnet-lite only");
}

/// `text` with the `n`-th (0-based) line starting with `key = ` replaced by
/// `line`, and that line's number.
fn with_nth_line(text: &str, key: &str, n: usize, line: &str) -> (String, usize) {
    let prefix = format!("{key} = ");
    let (index, _) = text
        .lines()
        .enumerate()
        .filter(|(_, l)| l.starts_with(&prefix))
        .nth(n)
        .unwrap_or_else(|| panic!("no {n}-th `{prefix}` line"));
    let mut lines: Vec<&str> = text.lines().collect();
    lines[index] = line;
    (lines.join("\n") + "\n", index + 1)
}

/// Column (1-based) of the value of `line` (what follows `key = `).
fn value_column(line: &str) -> usize {
    line.find(" = ").expect("a key = value line") + 4
}

/// The study name becomes `reports/<name>/`: it is checked as a path.
#[test]
fn study_name_that_is_not_one_folder_name() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["/tmp/x", "../../x", "", "a/b", "."] {
        let line = format!("name = \"{name}\"");
        let (text, at) = with_nth_line(&quick(), "name", 0, &line);
        let out = plan_text(dir.path(), &text);
        assert_located(&out, at, value_column(&line), "");
        assert!(
            out.stderr.contains("must be relative") || out.stderr.contains("one folder name"),
            "{name}: {}",
            out.stderr
        );
    }
}

/// Every numeric field has its range, checked at `plan` and located at the
/// field, in the protocol, the benchmark and each `[[pretrain]]` entry.
#[test]
fn numeric_fields_out_of_range_are_located() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            "resolution",
            0,
            "resolution = 0",
            "benchmark.resolution is 0",
        ),
        (
            "resolution",
            0,
            "resolution = 20",
            "benchmark.resolution: model",
        ),
        ("momentum", 0, "momentum = -3.0", "protocol.momentum is -3"),
        ("momentum", 0, "momentum = 1.0", "protocol.momentum is 1"),
        ("steps", 0, "steps = 0", "protocol.steps is 0"),
        (
            "eval_every",
            0,
            "eval_every = 0",
            "protocol.eval_every is 0",
        ),
        ("seeds", 0, "seeds = []", "protocol.seeds must not be empty"),
        (
            "learning_rates",
            0,
            "learning_rates = [0.01, -1.0]",
            "protocol.learning_rates is -1",
        ),
        (
            "weight_decays",
            0,
            "weight_decays = [nan]",
            "protocol.weight_decays is NaN",
        ),
        (
            "holdout_fraction",
            0,
            "holdout_fraction = 1.0",
            "holdout_fraction is 1",
        ),
        (
            "steps",
            2,
            "steps = 0",
            "pretrain `corpus-8k-baseline-seed1`: steps is 0",
        ),
        (
            "batch",
            0,
            "batch = 0",
            "pretrain `corpus-8k-baseline`: batch is 0",
        ),
    ];
    for (key, n, line, words) in cases {
        let (text, at) = with_nth_line(&quick(), key, n, line);
        let out = plan_text(dir.path(), &text);
        assert_located(&out, at, value_column(line), words);
    }
}

/// The selection rule is read into the aggregation's own type: an unknown
/// rule is refused where it is written.
#[test]
fn unknown_selection_rule() {
    let dir = tempfile::tempdir().unwrap();
    let line = "selection = \"best-guess\"";
    let (text, at) = with_nth_line(&quick(), "selection", 0, line);
    let out = plan_text(dir.path(), &text);
    assert_located(&out, at, value_column(line), "unknown variant `best-guess`");
}

#[test]
fn unknown_recipe_is_located_and_the_recipes_are_listed() {
    let dir = tempfile::tempdir().unwrap();
    let line = "recipe = \"autoaugment\"";
    let (text, at) = with_nth_line(&quick(), "recipe", 0, line);
    let out = plan_text(dir.path(), &text);
    assert_located(
        &out,
        at,
        value_column(line),
        "unknown variant `autoaugment`",
    );
    // The list comes from the one definition of the recipes.
    for name in ["baseline", "randaugment", "augmix", "mixup", "cutmix"] {
        assert!(
            out.stderr.contains(&format!("`{name}`")),
            "{name}: {}",
            out.stderr
        );
    }
}

#[test]
fn unknown_algorithm() {
    let dir = tempfile::tempdir().unwrap();
    let text = with_line(&quick(), "algorithms", "algorithms = [\"erm\", \"irm\"]");
    let out = plan_text(dir.path(), &text);
    assert_located(
        &out,
        line_of(&text, "algorithms"),
        22,
        "unknown variant `irm`, expected one of `erm`, `coral`, `mixup`",
    );
}

#[test]
fn algorithms_without_erm() {
    let dir = tempfile::tempdir().unwrap();
    let text = with_line(&quick(), "algorithms", "algorithms = [\"coral\"]");
    let out = plan_text(dir.path(), &text);
    assert_located(
        &out,
        line_of(&text, "algorithms"),
        14,
        "must include \"erm\"",
    );
}

#[test]
fn algorithm_listed_twice() {
    let dir = tempfile::tempdir().unwrap();
    let text = with_line(
        &quick(),
        "algorithms",
        "algorithms = [\"erm\", \"mixup\", \"mixup\"]",
    );
    let out = plan_text(dir.path(), &text);
    assert_located(&out, line_of(&text, "algorithms"), 14, "twice");
}

#[test]
fn a_timm_tag_outside_the_papers_list_is_located() {
    let dir = tempfile::tempdir().unwrap();
    let (text, lines) = with_model(&[("name", "odd"), ("timm", "resnet50")]);
    let out = plan_text(dir.path(), &text);
    assert_located(
        &out,
        lines[1],
        8,
        "`resnet50` is not one of the paper's 91 timm tags",
    );
}

#[test]
fn a_timm_tag_with_family_and_size_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (text, lines) = with_model(&[
        ("name", "odd"),
        ("timm", "convnext_tiny.fb_in1k"),
        ("family", "resnet"),
        ("size", "tiny"),
    ]);
    let out = plan_text(dir.path(), &text);
    assert_located(
        &out,
        lines[0],
        8,
        "leave out `family`, `size` and `pretrain`",
    );
}

#[test]
fn a_model_needs_family_and_size_or_a_timm_tag() {
    let dir = tempfile::tempdir().unwrap();
    let (text, lines) = with_model(&[("name", "odd"), ("family", "resnet")]);
    let out = plan_text(dir.path(), &text);
    assert_located(
        &out,
        lines[0],
        8,
        "give `family` and `size`, or a `timm` tag",
    );
}

#[test]
fn a_built_timm_tag_names_the_weights_it_trains_from() {
    let dir = tempfile::tempdir().unwrap();
    let (text, lines) = with_model(&[("name", "odd"), ("timm", "tf_efficientnet_lite1.in1k")]);
    let out = plan_text(dir.path(), &text);
    assert_located(&out, lines[1], 8, "set `weights = \"efficientnet-lite1\"`");
}

#[test]
fn a_timm_tag_trains_from_its_own_weights_input() {
    let dir = tempfile::tempdir().unwrap();
    let (text, lines) = with_model(&[
        ("name", "odd"),
        ("timm", "vgg11.tv_in1k"),
        ("weights", "efficientnet-lite0"),
    ]);
    let out = plan_text(dir.path(), &text);
    assert_located(
        &out,
        lines[2],
        11,
        "trains from its own weights input `timm:vgg11.tv_in1k`",
    );
}

#[test]
fn a_vit_tag_at_another_side_than_its_own_is_located() {
    let dir = tempfile::tempdir().unwrap();
    // The quick study's 16 px: a ViT tag's position embeddings are for 224.
    let (text, _) = with_model(&[
        ("name", "odd"),
        ("timm", "vit_tiny_patch16_224.augreg_in21k_ft_in1k"),
    ]);
    let out = plan_text(dir.path(), &text);
    assert_located(
        &out,
        line_of(&text, "resolution"),
        14,
        "takes 224 px inputs only",
    );
}

/// `quick.toml` with partial fine-tuning switched on: `trainable_blocks = N`
/// after an unaugmented ID validation, and that line's number.
fn with_trainable_blocks(value: &str, augment: bool) -> (String, usize) {
    let text = with_line(
        &quick(),
        "augment_id_validation",
        &format!("augment_id_validation = {augment}\ntrainable_blocks = {value}"),
    );
    let line = line_of(&text, "trainable_blocks");
    (text, line)
}

#[test]
fn partial_fine_tuning_of_a_network_without_blocks() {
    let dir = tempfile::tempdir().unwrap();
    let (text, line) = with_trainable_blocks("1", false);
    let out = plan_text(dir.path(), &text);
    assert_located(
        &out,
        line,
        20,
        "model `resnet-tiny` is not an EfficientNet-Lite",
    );
}

#[test]
fn partial_fine_tuning_with_augmented_validation() {
    let dir = tempfile::tempdir().unwrap();
    let (text, line) = with_trainable_blocks("1", true);
    let out = plan_text(dir.path(), &text);
    assert_located(&out, line, 20, "augment_id_validation must be false");
}

#[test]
fn trainable_blocks_outside_the_network() {
    let dir = tempfile::tempdir().unwrap();
    for value in ["0", "17"] {
        let (text, line) = with_trainable_blocks(value, false);
        let (text, _) = with_model_text(
            &text,
            &[
                ("name", "lite0"),
                ("family", "efficientnet-lite"),
                ("size", "lite0"),
            ],
        );
        // Only the Lite model: the ResNets and ViTs would fail first.
        let text = only_last_model(&text);
        let out = plan_text(dir.path(), &text);
        assert_located(
            &out,
            line,
            20,
            "model `lite0` has 16 blocks (1 to 16 can be trained)",
        );
    }
}

/// `text` with one more `[[model]]` made of `key = "value"` lines, and the
/// line number of each of those lines.
fn with_model_text(text: &str, fields: &[(&str, &str)]) -> (String, Vec<usize>) {
    let mut text = format!("{text}\n[[model]]\n");
    let mut lines = Vec::new();
    for (key, value) in fields {
        text.push_str(&format!("{key} = \"{value}\"\n"));
        lines.push(text.lines().count());
    }
    (text, lines)
}

/// `text` with every `[[model]]` but the last removed.
fn only_last_model(text: &str) -> String {
    let first = text.find("[[model]]").unwrap();
    let last = text.rfind("[[model]]").unwrap();
    format!("{}{}", &text[..first], &text[last..])
}

/// A plateau rule that cannot end a run is refused at the entry's `plateau`.
#[test]
fn plateau_rule_out_of_range() {
    let dir = tempfile::tempdir().unwrap();
    for (rule, words) in [
        (
            "every = 0, patience = 3, min_gain = 1.0, cooldown = 0.2",
            "plateau: every must be at least 1",
        ),
        (
            "every = 250, patience = 3, min_gain = 1.0, cooldown = 0.0",
            "plateau: cooldown 0 is not in (0, 1]",
        ),
        (
            "every = 250, patience = 0, min_gain = 1.0, cooldown = 0.2",
            "plateau: patience must be at least 1",
        ),
    ] {
        let line = format!("plateau = {{ {rule} }}");
        let (text, at) = with_nth_line(&quick(), "plateau", 1, &line);
        let out = plan_text(dir.path(), &text);
        assert_located(&out, at, value_column(&line), words);
        assert!(
            out.stderr.contains("pretrain `corpus-8k-baseline-seed1`"),
            "{}",
            out.stderr
        );
    }
}

/// `patch` and `pool` shape a zoo ViT only, and the patch must tile the image.
#[test]
fn vit_shape_on_another_family_or_not_tiling_the_image() {
    let dir = tempfile::tempdir().unwrap();
    let base = [("name", "odd"), ("family", "resnet"), ("size", "tiny")];
    let (text, _) = with_model(&base);
    let text = text + "pool = \"mean\"\n";
    let out = plan_text(dir.path(), &text);
    let at = text.lines().count();
    assert_located(&out, at, 8, "`pool` shapes a zoo ViT");

    let vit = [("name", "odd"), ("family", "vit"), ("size", "tiny")];
    let (text, _) = with_model(&vit);
    let text = text + "patch = 3\n";
    let out = plan_text(dir.path(), &text);
    let at = text.lines().count();
    assert_located(&out, at, 9, "patch 3 does not tile benchmark.resolution 16");
}
