"""The boosting model's trees walked all at once with numpy, for a few rows.

scikit-learn's prediction calls each tree in turn (one Python call of about 4 us per tree,
250 trees): 1 ms for one car. Here the nodes of every tree are laid out in flat arrays and
all trees step down one level together, so one car costs about 0.1 ms. The decision at a
node is the one of scikit-learn's _predict_one_from_raw_data (HistGradientBoosting):
  * blank (NaN): the node's missing_go_to_left;
  * categorical: left if the code is in the node's left bitset, else right if the category
    was known in training, else the missing-value side (precomputed per code below);
  * numeric: left if value <= num_threshold.
The leaf values are summed tree after tree (cumsum is sequential), as scikit-learn adds
them, so the sums are identical. Walking costs grow with rows x trees: above a few dozen
rows scikit-learn's loop is faster (WALK_MAX_ROWS).
"""

from __future__ import annotations

import numpy as np

WALK_MAX_ROWS = 24
CODES = np.arange(256)  # a category's code is a uint8 in scikit-learn's bitsets


def _in_bitset(bitset: np.ndarray) -> np.ndarray:
    """Per code 0..255, whether it is in a scikit-learn bitset (8 x uint32)."""
    return ((bitset[CODES // 32] >> (CODES % 32)) & 1).astype(bool)


class Forest:
    """Flat copy of a fitted HistGradientBoosting's trees (one per iteration)."""

    def __init__(self, predictors: list, known_bitsets: np.ndarray, f_idx_map: np.ndarray,
                 baseline: float):
        sizes = np.array([len(p.nodes) for p in predictors])
        self.roots = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.intp)
        nodes = np.concatenate([p.nodes for p in predictors])
        offset = np.repeat(self.roots, sizes)
        leaf = nodes["is_leaf"].astype(bool)
        here = np.arange(len(nodes))
        # A leaf points to itself: walking on past it changes nothing.
        self.left = np.where(leaf, here, nodes["left"].astype(np.intp) + offset)
        self.right = np.where(leaf, here, nodes["right"].astype(np.intp) + offset)
        self.feature = np.where(leaf, 0, nodes["feature_idx"]).astype(np.intp)
        self.threshold = nodes["num_threshold"]
        self.missing_left = nodes["missing_go_to_left"].astype(bool)
        self.value = nodes["value"]
        self.categorical = nodes["is_categorical"].astype(bool) & ~leaf
        self.depth = int(nodes["depth"].max())
        self.baseline = baseline
        # Row 0: numeric nodes (unused); then one row per categorical node: code -> left?
        self.cat_row = np.zeros(len(nodes), dtype=np.intp)
        table = [np.zeros(256, dtype=bool)]
        for tree, predictor in enumerate(predictors):
            for k in np.flatnonzero(self.categorical[self.roots[tree] + np.arange(sizes[tree])]):
                node = predictor.nodes[k]
                in_left = _in_bitset(predictor.raw_left_cat_bitsets[node["bitset_idx"]])
                known = _in_bitset(known_bitsets[f_idx_map[node["feature_idx"]]])
                self.cat_row[self.roots[tree] + k] = len(table)
                table.append(in_left | (~known & bool(node["missing_go_to_left"])))
        self.cat_left = np.array(table)

    def raw(self, X: np.ndarray) -> np.ndarray:
        """Baseline + the sum of every tree's leaf value, per row of X (codes, numbers)."""
        n = len(X)
        node = np.repeat(self.roots[None, :], n, axis=0)
        rows = np.arange(n)[:, None]
        for _ in range(self.depth):
            x = X[rows, self.feature[node]]
            blank, categorical = np.isnan(x), self.categorical[node]
            code = np.where(categorical & ~blank, x, 0).astype(np.intp)
            left = np.where(categorical, self.cat_left[self.cat_row[node], code],
                            x <= self.threshold[node])
            left = np.where(blank, self.missing_left[node], left)
            node = np.where(left, self.left[node], self.right[node])
        leaves = np.concatenate([np.full((n, 1), self.baseline), self.value[node]], axis=1)
        return np.cumsum(leaves, axis=1)[:, -1]
