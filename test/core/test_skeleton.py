"""Skeleton layouts: kinematic trees and left/right symmetry."""
from __future__ import annotations

import numpy as np
import pytest

from pose3d_ros.skeleton import H36M17, LAYOUTS, SkeletonLayout, get_layout


@pytest.mark.parametrize("layout", list(LAYOUTS.values()), ids=list(LAYOUTS))
def test_parents_form_a_tree(layout):
    parents = layout.parents
    assert parents.count(-1) == 1
    for j in range(layout.num_joints):
        # Every joint reaches the root without a cycle (MPI-INF-3DHP's order is not topological).
        seen, k = set(), j
        while parents[k] != -1:
            assert k not in seen and 0 <= parents[k] < layout.num_joints, f"{layout.name}: joint {j}"
            seen.add(k)
            k = parents[k]
    assert len(layout.bones) == layout.num_joints - 1
    assert len(set(layout.joint_names)) == layout.num_joints


@pytest.mark.parametrize("layout", list(LAYOUTS.values()), ids=list(LAYOUTS))
def test_flip_permutation(layout):
    perm = layout.flip_permutation()
    assert sorted(perm) == list(range(layout.num_joints))
    np.testing.assert_array_equal(perm[perm], np.arange(layout.num_joints))
    assert not set(layout.joints_left) & set(layout.joints_right)
    names = layout.joint_names
    for j in range(layout.num_joints):
        name, flipped = names[j], names[perm[j]]
        if name.startswith("l_"):
            assert flipped == "r_" + name[2:]
        elif name.startswith("r_"):
            assert flipped == "l_" + name[2:]
        elif name.endswith("_left"):
            assert flipped == name[:-5] + "_right"
        elif name.endswith("_right"):
            assert flipped == name[:-6] + "_left"
        else:
            assert perm[j] == j, f"{layout.name}: centre joint {name} is flipped"
    # every sided joint is in a group
    sided = {j for j, n in enumerate(names) if n[:2] in ("l_", "r_") or n.endswith(("_left", "_right"))}
    assert sided == set(layout.joints_left) | set(layout.joints_right)


@pytest.mark.parametrize("layout", list(LAYOUTS.values()), ids=list(LAYOUTS))
def test_bone_and_left_right_indices(layout):
    assert list(zip(layout.bone_children, layout.bone_parents)) == list(layout.bones)
    for child, parent in layout.bones:
        assert layout.parents[child] == parent and layout.bones[layout.bone_of(child)] == (child, parent)
    assert len(layout.left_right_bones) == len(layout.left_right_joints) == len(layout.joints_left)
    perm = layout.flip_permutation()
    for (left, right), (left_bone, right_bone) in zip(layout.left_right_joints, layout.left_right_bones):
        assert perm[left] == right
        # each pair of bones is named by the pair of joints: the flip maps one bone onto the other
        assert layout.bone_children[left_bone] == left and layout.bone_children[right_bone] == right
        assert perm[layout.bone_parents[left_bone]] == layout.bone_parents[right_bone]


def test_h36m_order():
    assert H36M17.num_joints == 17
    assert H36M17.index("pelvis") == 0 and H36M17.index("thorax") == 8 and H36M17.index("r_wrist") == 16


def test_get_layout():
    for name, layout in LAYOUTS.items():
        assert get_layout(name) is layout
    with pytest.raises(ValueError, match="unknown skeleton layout 'smpl24'.*h36m17"):
        get_layout("smpl24")


def test_layout_validation():
    with pytest.raises(ValueError, match="2 names but 1 parents"):
        SkeletonLayout("bad", ("a", "b"), (-1,), (), ())
    with pytest.raises(ValueError, match="differ in size"):
        SkeletonLayout("bad", ("a", "b"), (-1, 0), (1,), ())
