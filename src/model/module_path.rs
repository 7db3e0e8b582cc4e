//! Where a `ModuleMapper` is in a module tree while burn walks it.
//!
//! burn calls `enter_module` / `exit_module` around every submodule, so a
//! mapper that must know which parameter it was handed (to initialise it by
//! rule, or to find its PyTorch state-dict key) keeps this stack.

/// (field name, container type) of every module entered, outermost first.
#[derive(Clone, Debug, Default)]
pub struct ModulePath(Vec<(String, String)>);

impl ModulePath {
    /// Call from `ModuleMapper::enter_module`.
    pub fn enter(&mut self, name: &str, container_type: &str) {
        self.0.push((name.to_string(), container_type.to_string()));
    }

    /// Call from `ModuleMapper::exit_module`.
    pub fn exit(&mut self) {
        self.0.pop();
    }

    /// The field names, outermost first (e.g. `backbone`, `ResNet`, `stem`, `conv`, `weight`).
    pub fn names(&self) -> Vec<&str> {
        self.0.iter().map(|(name, _)| name.as_str()).collect()
    }

    /// The innermost field and the type of the module that holds it
    /// (e.g. `("weight", "Struct:Conv2d")`).
    pub fn field_and_owner(&self) -> Option<(&str, &str)> {
        self.0.last().map(|(f, o)| (f.as_str(), o.as_str()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tracks_the_innermost_field_and_its_owner() {
        let mut path = ModulePath::default();
        path.enter("stem", "Struct:ConvBn");
        path.enter("conv", "Struct:Conv2d");
        path.enter("weight", "Struct:Conv2d");
        assert_eq!(path.names(), ["stem", "conv", "weight"]);
        assert_eq!(path.field_and_owner(), Some(("weight", "Struct:Conv2d")));
        path.exit();
        path.exit();
        assert_eq!(path.names(), ["stem"]);
        path.exit();
        assert_eq!(path.field_and_owner(), None);
    }
}
