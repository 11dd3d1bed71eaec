"""Linear (contextual) MDP families with known features and exact optima (papers 000 and 001); registration only."""

from mtenvs.core.registry import register_env, register_family

_FAMILIES = {
    "LinearContextual": "mtenvs.linear.contextual:FAMILY",
    "LinearMDP": "mtenvs.linear.parallel:HOMOGENEOUS",
    "LinearSmallHeterogeneity": "mtenvs.linear.parallel:SMALL",
    "LinearLargeHeterogeneity": "mtenvs.linear.parallel:LARGE",
}
_ENVS = {
    "LinearContextual": ("mtenvs.linear.contextual:LinearContextualEnv", "mtenvs.linear.contextual:LinearContextualVectorEnv"),
    "LinearMDP": ("mtenvs.linear.parallel:LinearMDPSingleEnv", "mtenvs.linear.parallel:LinearMDPVectorEnv"),
    "LinearSmallHeterogeneity": ("mtenvs.linear.parallel:LinearSmallHeterogeneityEnv",
                                 "mtenvs.linear.parallel:LinearSmallHeterogeneityVectorEnv"),
    "LinearLargeHeterogeneity": ("mtenvs.linear.parallel:LinearLargeHeterogeneityEnv",
                                 "mtenvs.linear.parallel:LinearLargeHeterogeneityVectorEnv"),
}

for _name, _family in _FAMILIES.items():
    register_family(_name, _family)
    _entry, _vector = _ENVS[_name]
    register_env(_name, _name, entry_point=_entry, vector_entry_point=_vector)
