//! Puts the tensors of a PyTorch state dict into a burn module.
//!
//! Walks the module with a [`ModuleMapper`] (as `model::init` does), derives
//! each parameter's state-dict key from its path, and replaces the parameter
//! (or BatchNorm running statistic) by that tensor. Every mismatch is
//! collected: a parameter without a key, a key without a parameter, a shape
//! that differs; the load fails if there is any, naming each key.

use std::collections::HashSet;
use std::fmt;

use burn::module::{Module, ModuleMapper, ModuleVisitor, Param};
use burn::prelude::*;

use super::torch_legacy::StateDict;
use crate::model::init::param_id_for;
use crate::model::module_path::ModulePath;

/// How a model's parameter paths relate to the keys of a PyTorch state dict.
/// (Closures, not function pointers: an architecture's mapping may depend on
/// its configuration.)
#[derive(Clone, Copy)]
pub struct KeyConvention<'a> {
    /// The file key of a parameter, from its burn path with PyTorch's field
    /// names (`gamma`/`beta` of a BatchNorm or LayerNorm already read `weight`/`bias`).
    pub file_key: &'a dyn Fn(&str) -> String,
    /// File keys with no burn counterpart, skipped without complaint
    /// (e.g. BatchNorm's `num_batches_tracked`).
    pub ignored: &'a dyn Fn(&str) -> bool,
}

impl fmt::Debug for KeyConvention<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("KeyConvention")
    }
}

/// PyTorch's BatchNorm step counter, which no burn module keeps.
pub fn is_step_counter(key: &str) -> bool {
    key.ends_with(".num_batches_tracked")
}

/// One way a state dict does not fit a module.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mismatch {
    /// The model has a parameter the file has no key for.
    Missing {
        key: String,
        param: String,
        shape: Vec<usize>,
    },
    /// The file has a key no parameter asked for.
    Unused { key: String, shape: Vec<usize> },
    /// Both have it, with different shapes (in PyTorch's layout).
    Shape {
        key: String,
        param: String,
        file: Vec<usize>,
        model: Vec<usize>,
    },
}

impl Mismatch {
    pub fn key(&self) -> &str {
        match self {
            Mismatch::Missing { key, .. }
            | Mismatch::Unused { key, .. }
            | Mismatch::Shape { key, .. } => key,
        }
    }
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Mismatch::Missing { key, param, shape } => write!(
                f,
                "missing key `{key}`: the model's `{param}` {shape:?} has no tensor in the file"
            ),
            Mismatch::Unused { key, shape } => write!(
                f,
                "unused key `{key}` {shape:?}: no parameter of the model takes it"
            ),
            Mismatch::Shape {
                key,
                param,
                file,
                model,
            } => write!(
                f,
                "shape mismatch for key `{key}`: the file has {file:?}, the model's `{param}` needs {model:?}"
            ),
        }
    }
}

/// Mismatches a [`LoadError`]'s message spells out.
pub const SHOWN: usize = 20;

/// A state dict that does not fit a module: every mismatch, in module order
/// (unused keys last, in file order).
/// (The message lists the first [`SHOWN`] of them: a file for another
/// size of the architecture misfits in every tensor.)
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{origin} does not fit the model ({} problem(s)):\n  {}{}", .mismatches.len(),
    .mismatches.iter().take(SHOWN).map(ToString::to_string).collect::<Vec<_>>().join("\n  "),
    match .mismatches.len().saturating_sub(SHOWN) {
        0 => String::new(),
        more => format!("\n  ... and {more} more"),
    })]
pub struct LoadError {
    /// Where the state dict came from (a file name), for the message.
    pub origin: String,
    pub mismatches: Vec<Mismatch>,
}

/// Replaces every float parameter and running statistic of `module` by the
/// tensor `convention` names for it in `dict`.
///
/// `module` is a whole model: parameter ids become `param_id_for(path)`, as
/// `model::init` gives them, so the same weights always serialise to the
/// same bytes. (Running statistics keep the id they were built with: a
/// mapper cannot change it.)
pub fn load_state_dict<B: Backend, M: Module<B>>(
    module: M,
    dict: &StateDict,
    convention: KeyConvention<'_>,
    origin: &str,
) -> Result<M, LoadError> {
    let mut loader = Loader {
        dict,
        convention,
        path: ModulePath::default(),
        used: HashSet::new(),
        mismatches: Vec::new(),
    };
    let module = module.map(&mut loader);
    let mut mismatches = loader.mismatches;
    for (key, tensor) in dict.iter() {
        if !loader.used.contains(key) && !(convention.ignored)(key) {
            mismatches.push(Mismatch::Unused {
                key: key.to_string(),
                shape: tensor.shape.clone(),
            });
        }
    }
    match mismatches.is_empty() {
        true => Ok(module),
        false => Err(LoadError {
            origin: origin.to_string(),
            mismatches,
        }),
    }
}

struct Loader<'a> {
    dict: &'a StateDict,
    convention: KeyConvention<'a>,
    path: ModulePath,
    used: HashSet<String>,
    mismatches: Vec<Mismatch>,
}

impl Loader<'_> {
    fn burn_path(&self) -> String {
        self.path.names().join(".")
    }
}

/// The burn path with PyTorch's field names (a BatchNorm's or LayerNorm's
/// gamma/beta are weight/bias).
fn torch_path(path: &ModulePath) -> String {
    let mut names = path.names();
    if let (Some(last), Some((_, owner))) = (names.last_mut(), path.field_and_owner()) {
        if owner == "Struct:BatchNorm" || owner == "Struct:LayerNorm" {
            match *last {
                "gamma" => *last = "weight",
                "beta" => *last = "bias",
                _ => {}
            }
        }
    }
    names.join(".")
}

/// burn's `Linear` keeps its weight as `[in, out]`, PyTorch as `[out, in]`.
fn is_linear_weight(path: &ModulePath) -> bool {
    path.field_and_owner() == Some(("weight", "Struct:Linear"))
}

/// A burn tensor's shape in PyTorch's layout.
fn torch_shape(path: &ModulePath, dims: &[usize]) -> Vec<usize> {
    match dims.len() == 2 && is_linear_weight(path) {
        true => vec![dims[1], dims[0]],
        false => dims.to_vec(),
    }
}

/// Every float tensor of `module` (parameters and running statistics), in
/// module order, as a PyTorch state dict would name and shape it before any
/// [`KeyConvention`]: the burn path with PyTorch's field names, and
/// PyTorch's layout. What a port must match, key for key, against the
/// reference's own listing.
pub fn torch_layout<B: Backend, M: Module<B>>(module: &M) -> Vec<(String, Vec<usize>)> {
    let mut layout = Layout {
        path: ModulePath::default(),
        tensors: Vec::new(),
    };
    module.visit(&mut layout);
    layout.tensors
}

struct Layout {
    path: ModulePath,
    tensors: Vec<(String, Vec<usize>)>,
}

impl<B: Backend> ModuleVisitor<B> for Layout {
    fn enter_module(&mut self, name: &str, container_type: &str) {
        self.path.enter(name, container_type);
    }

    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.path.exit();
    }

    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
        // The lazy shape: listing a large model allocates none of its weights.
        let shape = torch_shape(&self.path, param.lazy_shape().as_slice());
        self.tensors.push((torch_path(&self.path), shape));
    }
}

impl<B: Backend> ModuleMapper<B> for Loader<'_> {
    fn enter_module(&mut self, name: &str, container_type: &str) {
        self.path.enter(name, container_type);
    }

    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.path.exit();
    }

    fn map_float<const D: usize>(&mut self, param: Param<Tensor<B, D>>) -> Param<Tensor<B, D>> {
        let (id, tensor, mapper) = param.consume();
        let param_path = self.burn_path();
        let key = (self.convention.file_key)(&torch_path(&self.path));
        let dims = tensor.dims().to_vec();
        let transpose = D == 2 && is_linear_weight(&self.path);
        // The shape the file should have, in PyTorch's layout.
        let expected = torch_shape(&self.path, &dims);
        let Some(found) = self.dict.get(&key) else {
            self.mismatches.push(Mismatch::Missing {
                key,
                param: param_path,
                shape: expected,
            });
            return Param::from_mapped_value(id, tensor, mapper);
        };
        self.used.insert(key.clone());
        if found.shape != expected {
            self.mismatches.push(Mismatch::Shape {
                key,
                param: param_path,
                file: found.shape.clone(),
                model: expected,
            });
            return Param::from_mapped_value(id, tensor, mapper);
        }
        let data = match transpose {
            true => transpose_2d(&found.data, expected[0], expected[1]),
            false => found.data.clone(),
        };
        let device = tensor.device();
        let require_grad = tensor.is_require_grad();
        let fresh = Tensor::<B, D>::from_data(TensorData::new(data, dims), &device)
            .set_require_grad(require_grad);
        let id = param_id_for(&param_path);
        Param::from_mapped_value(id, fresh, mapper)
    }
}

/// `[rows, cols]` row-major to `[cols, rows]` row-major.
fn transpose_2d(data: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    let mut out = vec![0.0; data.len()];
    for r in 0..rows {
        for c in 0..cols {
            out[c * rows + r] = data[r * cols + c];
        }
    }
    out
}
