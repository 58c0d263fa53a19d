"""RDM comparisons, batched: every reference RDM vector against every other one in one call.

Methods (rsatoolbox's ``compare`` names in brackets): ``tau-a`` (tau-a), ``tau-b`` (kendall),
``spearman`` (spearman) and ``pearson`` (corr).

Kendall's τ is counted exactly in integers: each reference is sorted once and each other vector
ranked once, however many pairs they enter (a bucket sort, linear in time for the smooth spread
of dissimilarities). For a pair, the other vector's ranks laid out in the reference's order are
scanned with a counting tree, whose count of strict inversions is the number of discordant pairs;
pairs tied in the reference are then taken back out block by block (they are neither concordant
nor discordant), which costs nothing for references without ties. Where the counted weight fits
16 bits (up to 362 stimuli), the tree packs four counters in a word and takes two levels per
step, and where the other vector has no ties its lowest six levels are a bitset (one popcount);
else it is binary. A tree too large for a core's cache (over 2**16 distinct values, about
360 stimuli) is split: the values are partitioned by their top bits and every count runs on a
small tree (packed where a partition's weight fits). Pairs run in parallel in compiled code
(numba). Spearman and Pearson are one matrix product of standardised (ranked) vectors.

Weights count positions several times (a bootstrap draw that repeats stimuli repeats their pairs):
the result equals that of the vectors with each position repeated ``weight`` times, exactly. The
Kendall counts carry them as multiplicities (every count a sum of weight products), so a repeated
position costs nothing and adds no tie block to scan; the other methods, and the GPU, compare the
repeated vectors.

On a GPU (``device="cuda"``) the Kendall counts run in torch instead: each pair sorted by its
joint (reference, other) rank, the strict inversions of the other's ranks in that order counted by
a bottom-up merge whose every level is one batched ``searchsorted`` over all pairs.
"""

from __future__ import annotations

import numpy as np
import numba
from numba import njit, prange, types
from numba.extending import intrinsic

from .correlation import unit_vectors

METHODS = ("tau-a", "tau-b", "spearman", "pearson")
RANK_METHODS = ("tau-a", "tau-b", "spearman")


@njit(cache=True, nogil=True)
def _tied_pairs_sorted(values, weights):
    """Pairs of (weighted) elements with equal values in an ascending array: a run of equal values
    of total weight W holds W(W − 1)/2 pairs, copies of one element among them."""
    pairs = 0
    run = np.int64(weights[0]) if values.shape[0] else np.int64(0)
    for k in range(1, values.shape[0]):
        if values[k] == values[k - 1]:
            run += weights[k]
        else:
            pairs += run * (run - 1) // 2
            run = weights[k]
    return pairs + run * (run - 1) // 2


@njit(cache=True, nogil=True)
def _binary_tree_inversions(sequence, weights, levels, tree):
    """Σ weights[k]·weights[l] over k < l with sequence[k] > sequence[l], for values in [0, 2**levels).

    ``tree`` (2**(levels+1) counters) is a complete binary tree over the values holding the weight
    seen under each node, walked from the root for each element: every step to a left child adds
    the seen weight under the right one, all of it greater. A fixed number of steps with no
    data-dependent branch.
    """
    tree[:] = 0
    inversions = 0
    for k in range(sequence.shape[0]):
        value, weight = sequence[k], weights[k]
        node = 1
        greater = 0
        for level in range(levels - 1, -1, -1):
            bit = (value >> level) & 1
            greater += tree[2 * node + 1] * (1 - bit)
            tree[node] += weight
            node = 2 * node + bit
        tree[node] += weight
        inversions += np.int64(greater) * weight
    return inversions


# The packed tree: a quaternary tree whose node is one 64-bit word of four 16-bit counters, so it
# serves sequences of total weight below 2**16 and values below 4**PACKED_TREE_STEPS.
PACKED_TREE_STEPS = 8
PACKED_WEIGHT_LIMIT = 1 << 16
# Step t reads the value's bits 2t and 2t + 1; its nodes are the values' prefixes above them.
PACKED_STEP_OFFSETS = np.cumsum([0] + [4 ** (PACKED_TREE_STEPS - 1 - t) for t in range(PACKED_TREE_STEPS - 1)])
PACKED_TREE_WORDS = int(PACKED_STEP_OFFSETS[-1]) + 1
# The counters below child d: an element's weight, copied into every counter, is added under them.
PACKED_COUNTERS_BELOW = np.array([0, 0xFFFF, 0xFFFF_FFFF, 0xFFFF_FFFF_FFFF], np.uint64)
PACKED_ONES = np.uint64(0x0001_0001_0001_0001)


@intrinsic
def _popcount(typingctx, word):
    """Set bits of a 64-bit word: one instruction (LLVM's ctpop), which numba does not expose."""

    def codegen(context, builder, signature, arguments):
        return builder.ctpop(arguments[0])

    return types.uint64(types.uint64), codegen


# Values per bitset word, below the packed tree where the values are distinct: its lowest six levels.
BITSET_LEVELS = 6
BITSET_BIT = np.uint64((1 << BITSET_LEVELS) - 1)  # a value's bit in its word


@njit(cache=True, nogil=True)
def _packed_tree_inversions(sequence, weights, distinct, levels, tree, bitset):
    """``_binary_tree_inversions`` two levels per step, for total weight below PACKED_WEIGHT_LIMIT.

    Counter j of a node holds the weight seen under its children after j: the weight greater
    than an element under child d is counter d, read with one shift, and an element's own weight
    is added to counters 0..d-1 with one masked add to the whole word (no counter reaches 2**16,
    so none carries into the next). The counters read for an element sum to less than 2**16 too,
    so the shifted words are summed and masked once. The steps are independent of each other and,
    the step count being a constant, unrolled by the compiler: about half the instructions of the
    binary walk.

    Where the values are ``distinct`` (each once, of weight one), a bitset word per 64 values
    marks those seen: the greater ones in an element's word are one popcount, and the tree counts
    the words' blocks, one step replacing the three of the lowest six levels (6,903 values: 28 µs
    against 42 µs per count). One function for both, so that the walk is written once; the
    compiler takes the loop-invariant branch out of the loop.
    """
    tree_levels = levels
    if distinct:
        bitset[: ((1 << levels) - 1 >> BITSET_LEVELS) + 1] = 0
        tree_levels = max(levels - BITSET_LEVELS, 0)
    steps = (tree_levels + 1) >> 1
    largest = (1 << tree_levels) - 1
    for step in range(steps):
        start = PACKED_STEP_OFFSETS[step]
        tree[start : start + (largest >> (2 * step + 2)) + 1] = 0
    inversions = 0
    for k in range(sequence.shape[0]):
        value = np.uint64(sequence[k])
        weight = np.uint64(1) if distinct else np.uint64(weights[k])
        greater = np.uint64(0)
        if distinct:
            bit = value & BITSET_BIT
            value >>= np.uint64(BITSET_LEVELS)
            seen = bitset[value]
            greater = _popcount(seen >> bit)  # its own bit is not set yet: the values are distinct
            bitset[value] = seen | (np.uint64(1) << bit)
        weight_in_every_counter = weight * PACKED_ONES
        counters_from_child = np.uint64(0)
        for step in range(PACKED_TREE_STEPS):
            if step >= steps:
                break
            child = (value >> np.uint64(2 * step)) & np.uint64(3)
            node = np.uint64(PACKED_STEP_OFFSETS[step]) + (value >> np.uint64(2 * step + 2))
            word = tree[node]
            counters_from_child += word >> (child << np.uint64(4))
            tree[node] = word + (weight_in_every_counter & PACKED_COUNTERS_BELOW[child])
        greater += counters_from_child & np.uint64(0xFFFF)
        inversions += np.int64(greater * weight)
    return inversions


@njit(cache=True, nogil=True)
def _strict_inversions(sequence, weights, total_weight, distinct, levels, trees):
    """Σ weights[k]·weights[l] over k < l with sequence[k] > sequence[l], for values in
    [0, 2**levels): where the counts fit 16 bits on the packed tree, with a bitset below it where
    the values are ``distinct`` (each once, of weight one), else on the binary tree. ``trees``:
    the three's buffers (binary tree, packed tree, bitset)."""
    binary_tree, packed_tree, bitset = trees
    if total_weight < PACKED_WEIGHT_LIMIT and levels <= 2 * PACKED_TREE_STEPS:
        return _packed_tree_inversions(sequence, weights, distinct, levels, packed_tree, bitset)
    return _binary_tree_inversions(sequence, weights, levels, binary_tree)


# Up to this many levels the counting tree stays in a core's cache; above, the values are first
# partitioned by their top bits so that each count runs on a tree of SMALL_TREE_LEVELS.
CACHED_LEVELS = 16
SMALL_TREE_LEVELS = 12


@njit(cache=True, nogil=True)
def _partitioned_inversions(sequence, weights, total_weight, distinct, levels, trees, top, part, part_weights, starts):
    """``_strict_inversions`` for long sequences, with every tree small enough to stay in cache:
    pairs whose values differ in their top bits are counted on those bits alone, the others
    within their partition (the elements sharing the top bits, in sequence order) on the low bits.
    ``sequence`` is left as it was."""
    low_bits = min(levels, SMALL_TREE_LEVELS)
    top_bits = levels - low_bits
    n = sequence.shape[0]
    for k in range(n):
        top[k] = sequence[k] >> low_bits
    inversions = _strict_inversions(top, weights, total_weight, False, top_bits, trees)
    partitions = 1 << top_bits
    starts[: partitions + 1] = 0
    for k in range(n):
        starts[top[k] + 1] += 1
    for partition in range(partitions):
        starts[partition + 1] += starts[partition]
    low_mask = (1 << low_bits) - 1
    for k in range(n):  # a stable scatter: each partition keeps the sequence's order
        position = starts[top[k]]
        part[position], part_weights[position] = sequence[k] & low_mask, weights[k]
        starts[top[k]] = position + 1
    start = 0
    for partition in range(partitions):
        end = starts[partition]
        if end - start > 1:
            part_total = part_weights[start:end].sum()
            inversions += _strict_inversions(
                part[start:end], part_weights[start:end], part_total, distinct, low_bits, trees
            )
        start = end
    return inversions


@njit(cache=True, nogil=True)
def _merge_sort_inversions(values, weights, value_buffer, weight_buffer):
    """Sorts ``values`` (and their ``weights`` alongside) in place and returns their weighted strict
    inversions (for short tie blocks): taking an element from the right run passes every element
    left in the left run, whose weight is kept as a running sum."""
    n = values.shape[0]
    inversions = 0
    width = 1
    in_buffer = False
    while width < n:
        source, target = (value_buffer, values) if in_buffer else (values, value_buffer)
        source_weight, target_weight = (weight_buffer, weights) if in_buffer else (weights, weight_buffer)
        for low in range(0, n, 2 * width):
            middle, high = min(low + width, n), min(low + 2 * width, n)
            left_weight = np.int64(0)
            for k in range(low, middle):
                left_weight += source_weight[k]
            i, j, k = low, middle, low
            while i < middle and j < high:
                if source[j] < source[i]:
                    target[k], target_weight[k] = source[j], source_weight[j]
                    inversions += left_weight * source_weight[j]
                    j += 1
                else:
                    target[k], target_weight[k] = source[i], source_weight[i]
                    left_weight -= source_weight[i]
                    i += 1
                k += 1
            target[k : k + middle - i] = source[i:middle]
            target_weight[k : k + middle - i] = source_weight[i:middle]
            k += middle - i
            target[k : k + high - j] = source[j:high]
            target_weight[k : k + high - j] = source_weight[j:high]
        in_buffer = not in_buffer
        width *= 2
    if in_buffer:
        values[:] = value_buffer
        weights[:] = weight_buffer
    return inversions


# Values per bucket on average: few enough for insertion sort, enough to keep the bucket counts in cache.
VALUES_PER_BUCKET = 4
# A bucket holding more values than this is finished by a comparison sort, not insertion sort.
INSERTION_SORT_LIMIT = 48


@njit(cache=True, nogil=True)
def _ascending_order(values, order, ordered, bucket_ends):
    """Fills ``order`` with an ascending order of ``values`` and ``ordered`` with the values in it.

    Equal values come in any order: no count depends on it. A bucket sort: the buckets
    (``len(bucket_ends)``) split the range evenly, and a value's bucket never decreases as the
    value grows (subtraction, multiplication by a positive number and truncation are all monotone
    in floating point), so the buckets in turn, each sorted, are the sorted values. Each bucket is
    finished by insertion sort, or by a comparison sort where one holds many values (a range
    stretched by outliers).
    """
    n, buckets = values.shape[0], bucket_ends.shape[0]
    if n == 0:
        return
    low, high = values.min(), values.max()
    scale = buckets / (high - low) if high > low else 0.0
    if not 0.0 < scale < np.inf:  # constant, infinite or subnormal range: one comparison sort
        order[:] = np.argsort(values)
        ordered[:] = values[order]
        return
    bucket_ends[:] = 0
    for k in range(n):
        bucket_ends[min(np.int64((values[k] - low) * scale), buckets - 1)] += 1
    for bucket in range(1, buckets):
        bucket_ends[bucket] += bucket_ends[bucket - 1]
    for k in range(n - 1, -1, -1):  # filled from the back, each end becomes its bucket's start
        bucket = min(np.int64((values[k] - low) * scale), buckets - 1)
        bucket_ends[bucket] -= 1
        ordered[bucket_ends[bucket]] = values[k]
        order[bucket_ends[bucket]] = k
    for bucket in range(buckets):
        start = bucket_ends[bucket]
        end = bucket_ends[bucket + 1] if bucket + 1 < buckets else n
        if end - start > INSERTION_SORT_LIMIT:
            within = np.argsort(ordered[start:end])
            order[start:end] = order[start:end][within]
            ordered[start:end] = ordered[start:end][within]
            continue
        for i in range(start + 1, end):
            value, index = ordered[i], order[i]
            j = i - 1
            while j >= start and ordered[j] > value:
                ordered[j + 1], order[j + 1] = ordered[j], order[j]
                j -= 1
            ordered[j + 1], order[j + 1] = value, index


@njit(cache=True, parallel=True)
def _sorted_groups(vectors, weights):
    """Per row: its ascending order, the group (dense rank) of each element in that order, and
    its number of tied (weighted) pairs."""
    count, n = vectors.shape
    orders = np.empty((count, n), np.int32)
    groups = np.empty((count, n), np.int32)
    ties = np.zeros(count, np.int64)
    for row in prange(count):
        ordered, bucket_ends = np.empty(n), np.empty(max(1, n // VALUES_PER_BUCKET), np.int32)
        order = orders[row]
        _ascending_order(vectors[row], order, ordered, bucket_ends)
        ties[row] = _tied_pairs_sorted(ordered, weights[order])
        group = 0
        for k in range(n):
            if k > 0 and ordered[k] != ordered[k - 1]:
                group += 1
            groups[row, k] = group
    return orders, groups, ties


@njit(cache=True, parallel=True)
def _unsorted(orders, groups):
    """Per row: each element's group at its own position (the inverse of the row's order)."""
    ranks = np.empty_like(groups)
    for row in prange(orders.shape[0]):
        for k in range(orders.shape[1]):
            ranks[row, orders[row, k]] = groups[row, k]
    return ranks


def _dense_ranks(vectors: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per row: 0-based ranks, ties sharing a rank; the number of distinct values; tied pairs."""
    orders, groups, ties = _sorted_groups(vectors, weights)
    return _unsorted(orders, groups), groups[:, -1].astype(np.int64) + 1, ties


@njit(cache=True, nogil=True)
def _copies(weights):
    """Pairs of copies of one position: tied in every vector."""
    pairs = 0
    for k in range(weights.shape[0]):
        pairs += np.int64(weights[k]) * (weights[k] - 1) // 2
    return pairs


@njit(cache=True, parallel=True)
def _discordant_and_joint_ties(orders, groups, ranks, other_ties, weights, levels, chunks, paired):
    """For every (reference, other) pair, or each reference with the other of its row where
    ``paired`` (references × 1): discordant pairs and pairs tied in both (weighted). An other
    without tied pairs (``other_ties``, copies included) has distinct ranks of weight one."""
    n_references, n = orders.shape
    n_others = 1 if paired else ranks.shape[0]
    pairs = n_references * n_others
    discordant = np.empty(pairs, np.int64)
    joint_ties = np.full(pairs, _copies(weights), np.int64)
    per_chunk = (pairs + chunks - 1) // chunks
    total_weight = weights.sum()
    for chunk in prange(chunks):
        sequence = np.empty(n, np.int32)
        reference_weights = np.empty(n, weights.dtype)  # in the reference's order
        block_weights_buffer = np.empty(n, weights.dtype)
        partitioned = levels > CACHED_LEVELS
        tree_levels = max(SMALL_TREE_LEVELS, levels - SMALL_TREE_LEVELS) if partitioned else levels
        trees = (
            np.empty(2 << tree_levels, np.int32),
            np.empty(PACKED_TREE_WORDS, np.uint64),
            np.empty(1 << max(tree_levels - BITSET_LEVELS, 0), np.uint64),
        )
        top, part = np.empty(n if partitioned else 0, np.int32), np.empty(n if partitioned else 0, np.int32)
        part_weights = np.empty(n if partitioned else 0, weights.dtype)
        starts = np.empty((1 << max(levels - SMALL_TREE_LEVELS, 0)) + 1, np.int64)
        buffer = np.empty(n, np.int32)
        weight_buffer = np.empty(n, weights.dtype)
        gathered = -1
        # Consecutive pairs share their reference: its weights are laid out once for all of them.
        for pair in range(chunk * per_chunk, min((chunk + 1) * per_chunk, pairs)):
            reference = pair // n_others
            other = reference if paired else pair % n_others
            order, rank, group = orders[reference], ranks[other], groups[reference]
            if reference != gathered:
                for k in range(n):
                    reference_weights[k] = weights[order[k]]
                gathered = reference
            for k in range(n):
                sequence[k] = rank[order[k]]
            distinct = other_ties[other] == 0
            if partitioned:
                inversions = _partitioned_inversions(
                    sequence, reference_weights, total_weight, distinct, levels, trees, top, part, part_weights, starts
                )
            else:
                inversions = _strict_inversions(sequence, reference_weights, total_weight, distinct, levels, trees)
            if group[n - 1] < n - 1:  # the reference has tied values: take their pairs back out
                start = 0
                for end in range(1, n + 1):
                    if end == n or group[end] != group[start]:
                        if end - start > 1:
                            block, block_weights = sequence[start:end], block_weights_buffer[: end - start]
                            block_weights[:] = reference_weights[start:end]  # sorted with the block
                            inversions -= _merge_sort_inversions(
                                block, block_weights, buffer[: end - start], weight_buffer[: end - start]
                            )
                            joint_ties[pair] += _tied_pairs_sorted(block, block_weights) - _copies(block_weights)
                        start = end
            discordant[pair] = inversions
    return discordant.reshape(n_references, n_others), joint_ties.reshape(n_references, n_others)


# References sorted per batch: bounds the order and group arrays (int32) to about 256 MB.
REFERENCE_BATCH_ENTRIES = 1 << 25


def _kendall(references: np.ndarray, others: np.ndarray, method: str, weights: np.ndarray, paired: bool) -> np.ndarray:
    n = references.shape[1]
    ranks, distinct, other_ties = _dense_ranks(others, weights)
    levels = int(distinct.max() - 1).bit_length()
    batch = max(1, REFERENCE_BATCH_ENTRIES // n)
    result = np.empty((len(references), 1 if paired else len(others)))
    entries = int(weights.sum())
    total = entries * (entries - 1) // 2
    for start in range(0, len(references), batch):
        rows = slice(start, start + batch)
        orders, groups, reference_ties = _sorted_groups(references[rows], weights)
        batch_ranks, batch_other_ties = (ranks[rows], other_ties[rows]) if paired else (ranks, other_ties)
        chunks = min(len(orders) * (1 if paired else len(others)), 256)
        discordant, joint_ties = _discordant_and_joint_ties(
            orders, groups, batch_ranks, batch_other_ties, weights, levels, chunks, paired
        )
        other_ties_shaped = batch_other_ties[:, None] if paired else batch_other_ties[None, :]
        concordant_minus_discordant = total - reference_ties[:, None] - other_ties_shaped + joint_ties - 2 * discordant
        if method == "tau-a":
            denominator = np.full(concordant_minus_discordant.shape, float(total))
        else:
            denominator = np.sqrt((total - reference_ties[:, None]).astype(float) * (total - other_ties_shaped))
        with np.errstate(invalid="ignore", divide="ignore"):
            result[rows] = concordant_minus_discordant / denominator
    return result


# Pair entries held on the device at a time (int64): 128 MB per array.
DEVICE_PAIR_ENTRIES = 1 << 24


def _torch_dense_ranks(values):
    """Per row: 0-based ranks with ties sharing a rank, and the number of tied pairs."""
    import torch

    ordered, order = torch.sort(values, dim=1, stable=True)
    new_value = torch.ones_like(ordered, dtype=torch.int64)
    new_value[:, 1:] = (ordered[:, 1:] != ordered[:, :-1]).long()
    sorted_ranks = torch.cumsum(new_value, dim=1) - 1
    ranks = torch.empty_like(order).scatter_(1, order, sorted_ranks)
    return ranks, _torch_tied_pairs(sorted_ranks)


def _torch_tied_pairs(sorted_keys):
    """Per row of row-sorted integer keys: pairs with equal keys."""
    import torch

    rows, n = sorted_keys.shape
    starts = torch.ones_like(sorted_keys, dtype=torch.bool)
    starts[:, 1:] = sorted_keys[:, 1:] != sorted_keys[:, :-1]
    run = torch.cumsum(starts.long(), dim=1) - 1 + (torch.arange(rows, device=sorted_keys.device) * n)[:, None]
    lengths = torch.bincount(run.flatten(), minlength=rows * n).view(rows, n)
    return (lengths * (lengths - 1) // 2).sum(dim=1)


def _torch_strict_inversions(sequence):
    """Per row: pairs k < l with sequence[k] > sequence[l] (non-negative integers)."""
    import torch

    rows, n = sequence.shape
    size = 1 << max(n - 1, 0).bit_length()
    # Padding with a value above every rank, at the end, adds no strict inversion.
    current = torch.full((rows, size), n + 1, dtype=torch.int64, device=sequence.device)
    current[:, :n] = sequence
    inversions = torch.zeros(rows, dtype=torch.int64, device=sequence.device)
    width = 1
    while width < size:
        blocks = current.view(rows, size // (2 * width), 2, width)
        left, right = blocks[:, :, 0].contiguous(), blocks[:, :, 1].contiguous()
        not_greater = torch.searchsorted(left, right, right=True)
        inversions += (width - not_greater).sum(dim=(1, 2))
        current = torch.sort(blocks.reshape(rows, -1, 2 * width), dim=-1).values.reshape(rows, size)
        width *= 2
    return inversions


def _kendall_torch(references: np.ndarray, others: np.ndarray, method: str, device: str, paired: bool) -> np.ndarray:
    import torch

    n = references.shape[1]
    total = n * (n - 1) // 2
    reference_ranks, reference_ties = _torch_dense_ranks(torch.from_numpy(references).to(device))
    other_ranks, other_ties = _torch_dense_ranks(torch.from_numpy(others).to(device))
    pairs = (
        torch.arange(len(references))[:, None].repeat(1, 2)
        if paired
        else torch.cartesian_prod(torch.arange(len(references)), torch.arange(len(others)))
    ).to(device)
    result = torch.empty(len(pairs), dtype=torch.float64, device=device)
    batch = max(1, DEVICE_PAIR_ENTRIES // n)
    for start in range(0, len(pairs), batch):
        reference, other = pairs[start : start + batch, 0], pairs[start : start + batch, 1]
        # One key orders by reference first and the other second; equal keys are joint ties.
        keys, order = torch.sort(reference_ranks[reference] * n + other_ranks[other], dim=1, stable=True)
        discordant = _torch_strict_inversions(torch.gather(other_ranks[other], 1, order))
        difference = total - reference_ties[reference] - other_ties[other] + _torch_tied_pairs(keys) - 2 * discordant
        if method == "tau-a":
            result[start : start + batch] = difference.double() / total
        else:
            denominator = ((total - reference_ties[reference]).double() * (total - other_ties[other]).double()).sqrt()
            result[start : start + batch] = difference.double() / denominator
    return result.view(len(references), 1 if paired else len(others)).cpu().numpy()


def _standardised(vectors: np.ndarray) -> np.ndarray:
    """Rows as unit vectors (their products are Pearson r); NaN for a constant row: no correlation."""
    unit, varies = unit_vectors(vectors, 1)
    unit[~varies] = np.nan
    return unit


def _complete(
    references: np.ndarray, others: np.ndarray, method: str, device: str | None, weights: np.ndarray, paired: bool = False
) -> np.ndarray:
    """Every pair (a, b), or each row with the same row of ``others`` where ``paired`` (a, 1)."""
    if len(references) == 0 or len(others) == 0:
        return np.empty((len(references), 1 if paired else len(others)))
    if method in ("tau-a", "tau-b") and device is None:
        return _kendall(references, others, method, weights, paired)
    if (weights != 1).any():
        positions = np.repeat(np.arange(len(weights)), weights)
        references, others = references[:, positions], others[:, positions]
    if method in ("tau-a", "tau-b"):
        return _kendall_torch(references, others, method, device, paired)
    if method == "spearman":
        from scipy.stats import rankdata  # scipy.stats costs 0.6 s of start-up that τ jobs do not need

        references, others = rankdata(references, axis=1), rankdata(others, axis=1)
    if paired:
        return (_standardised(references) * _standardised(others)).sum(axis=1, keepdims=True)
    return _standardised(references) @ _standardised(others).T


def compare(
    references: np.ndarray,
    others: np.ndarray,
    method: str = "tau-a",
    device: str | None = None,
    weights: np.ndarray | None = None,
) -> np.ndarray:
    """``method`` between every row of ``references`` (a, n) and every row of ``others`` (b, n): (a, b).

    Positions where either vector of a pair is NaN are left out of that pair (as rsatoolbox does).
    ``device``: None counts Kendall pairs on the CPU (numba); a torch device ("cuda", "cuda:1", or
    "cpu" to run the torch code on the CPU) counts them with torch there.
    ``weights`` (n non-negative integers): how many times each position counts; the result is that
    of the vectors with every position repeated that many times.
    """
    references, others, weights = _checked(references, others, method, weights)
    reference_nan, other_nan = np.isnan(references).any(axis=1), np.isnan(others).any(axis=1)
    result = np.empty((len(references), len(others)))
    result[np.ix_(~reference_nan, ~other_nan)] = _complete(
        references[~reference_nan], others[~other_nan], method, device, weights
    )
    for row, column in zip(*np.nonzero(reference_nan[:, None] | other_nan[None, :])):
        keep = ~(np.isnan(references[row]) | np.isnan(others[column]))
        result[row, column] = (
            _complete(references[row, keep][None], others[column, keep][None], method, device, weights[keep])[0, 0]
            if weights[keep].sum() > 1
            else np.nan
        )
    return result


def compare_pairs(references: np.ndarray, others: np.ndarray, method: str = "tau-a", device: str | None = None) -> np.ndarray:
    """``method`` between each row of ``references`` and the same row of ``others`` (both (k, n)):
    (k,), the diagonal of ``compare``'s result without the other k² − k pairs. NaN positions as
    in ``compare``."""
    references, others, weights = _checked(references, others, method, None)
    if len(references) != len(others):
        raise ValueError(f"pairs need as many references as others: {len(references)} and {len(others)}")
    missing = np.isnan(references).any(axis=1) | np.isnan(others).any(axis=1)
    result = np.empty(len(references))
    result[~missing] = _complete(references[~missing], others[~missing], method, device, weights, paired=True)[:, 0]
    for row in np.flatnonzero(missing):
        result[row] = compare(references[row], others[row], method, device)[0, 0]
    return result


def _checked(
    references: np.ndarray, others: np.ndarray, method: str, weights: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The inputs as float64 rows and integer weights, positions of weight 0 left out."""
    if method not in METHODS:
        raise ValueError(f"unknown comparison method {method!r}; valid: {', '.join(METHODS)}")
    references = np.atleast_2d(np.asarray(references, dtype=np.float64))
    others = np.atleast_2d(np.asarray(others, dtype=np.float64))
    if references.shape[1] != others.shape[1]:
        raise ValueError(f"RDM vectors differ in length: {references.shape[1]} and {others.shape[1]}")
    weights = np.ones(references.shape[1], np.int64) if weights is None else np.asarray(weights, np.int64)
    if weights.shape != (references.shape[1],) or (weights < 0).any():
        raise ValueError(f"weights must be {references.shape[1]} non-negative integers, got shape {weights.shape}")
    if (weights == 0).any():  # a copy of the inputs only where positions drop out
        used = weights > 0
        references, others, weights = references[:, used], others[:, used], weights[used]
    return references, others, weights


def use_threads(count: int) -> None:
    """Run the pair counts on ``count`` threads (at most the machine's)."""
    numba.set_num_threads(max(1, min(count, numba.config.NUMBA_NUM_THREADS)))
