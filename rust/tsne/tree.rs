//! The space-partitioning tree of the Barnes-Hut approximation: a quadtree
//! for 2-D embeddings and an octree for 3-D ones (`D` is a const generic, a
//! cell has `2^D` children).
//!
//! The tree is rebuilt every iteration, top down: the permutation of point
//! indices is partitioned in place into the `2^D` sub-cubes of each cell (a
//! counting sort), so every cell owns a contiguous range of that
//! permutation and stores its point count and centre of mass. Cells are
//! cubes, so one side length describes them. Subdivision stops at one point
//! per cell or at [`MAX_DEPTH`], which bounds the depth for duplicate points
//! (such a leaf keeps all its points and they are visited one by one).

/// Deepest level of subdivision (cells then are `2^-48` of the root side).
pub const MAX_DEPTH: usize = 48;

/// One cell of the tree.
#[derive(Clone, Copy, Debug)]
pub struct Cell<const D: usize> {
    /// Centre of mass of the points inside.
    pub com: [f64; D],
    /// Side length of the (cubic) cell.
    pub side: f64,
    /// Number of points inside.
    pub count: u32,
    /// Index of the first of `2^D` consecutive children; 0 for a leaf.
    pub first_child: u32,
    /// First position of the cell's points in [`SpTree::perm`].
    pub start: u32,
    /// One past the last position of the cell's points in [`SpTree::perm`].
    pub end: u32,
    /// For a leaf, the index of its (first) point.
    pub point: u32,
}

/// A quadtree (`D = 2`) or octree (`D = 3`) over a set of points.
#[derive(Clone, Debug, Default)]
pub struct SpTree<const D: usize> {
    /// Cells; index 0 is the root.
    pub cells: Vec<Cell<D>>,
    /// Point indices, grouped so that each cell owns a contiguous range.
    pub perm: Vec<u32>,
    scratch: Vec<u32>,
}

impl<const D: usize> SpTree<D> {
    /// An empty tree; call [`SpTree::build`] to fill it (buffers are reused
    /// between builds).
    pub fn new() -> Self {
        SpTree {
            cells: Vec::new(),
            perm: Vec::new(),
            scratch: Vec::new(),
        }
    }

    /// Rebuilds the tree over `y`, a row-major `n x D` array of points.
    pub fn build(&mut self, y: &[f64]) {
        let n = y.len() / D;
        self.cells.clear();
        self.perm.clear();
        self.perm.extend(0..n as u32);
        self.scratch.resize(n, 0);
        let mut lo = [f64::INFINITY; D];
        let mut hi = [f64::NEG_INFINITY; D];
        for p in y.chunks_exact(D) {
            for d in 0..D {
                lo[d] = lo[d].min(p[d]);
                hi[d] = hi[d].max(p[d]);
            }
        }
        let mut side = 0.0f64;
        let mut center = [0.0; D];
        for d in 0..D {
            side = side.max(hi[d] - lo[d]);
            center[d] = 0.5 * (lo[d] + hi[d]);
        }
        // Slightly larger so that points on the upper faces fall inside.
        let side = side * (1.0 + 1e-9) + 1e-12;
        self.cells.push(Cell {
            com: [0.0; D],
            side,
            count: n as u32,
            first_child: 0,
            start: 0,
            end: n as u32,
            point: 0,
        });
        self.split(y, 0, center, 0);
    }

    fn split(&mut self, y: &[f64], cell: usize, center: [f64; D], depth: usize) {
        let (start, end) = (
            self.cells[cell].start as usize,
            self.cells[cell].end as usize,
        );
        let count = end - start;
        let mut com = [0.0; D];
        for &p in &self.perm[start..end] {
            let p = p as usize;
            for d in 0..D {
                com[d] += y[p * D + d];
            }
        }
        for c in com.iter_mut() {
            *c /= count as f64;
        }
        self.cells[cell].com = com;
        if count <= 1 || depth >= MAX_DEPTH {
            self.cells[cell].point = self.perm[start];
            return;
        }
        // Counting sort of the cell's points into its 2^D children.
        let nchild = 1usize << D;
        let quadrant = |p: usize| -> usize {
            let mut q = 0;
            for d in 0..D {
                if y[p * D + d] >= center[d] {
                    q |= 1 << d;
                }
            }
            q
        };
        let mut counts = [0usize; 8];
        for &p in &self.perm[start..end] {
            counts[quadrant(p as usize)] += 1;
        }
        let mut offs = [0usize; 8];
        let mut acc = start;
        for q in 0..nchild {
            offs[q] = acc;
            acc += counts[q];
        }
        let bounds = offs;
        self.scratch[start..end].copy_from_slice(&self.perm[start..end]);
        for t in start..end {
            let p = self.scratch[t];
            let q = quadrant(p as usize);
            self.perm[offs[q]] = p;
            offs[q] += 1;
        }
        let first = self.cells.len();
        let side = self.cells[cell].side * 0.5;
        self.cells[cell].first_child = first as u32;
        for q in 0..nchild {
            self.cells.push(Cell {
                com: [0.0; D],
                side,
                count: counts[q] as u32,
                first_child: 0,
                start: bounds[q] as u32,
                end: (bounds[q] + counts[q]) as u32,
                point: u32::MAX,
            });
        }
        for q in 0..nchild {
            if counts[q] == 0 {
                continue;
            }
            let mut c = center;
            for d in 0..D {
                c[d] += if q & (1 << d) != 0 { 0.25 } else { -0.25 } * self.cells[cell].side;
            }
            self.split(y, first + q, c, depth + 1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_partition_points_and_hold_their_mass() {
        let mut rng = crate::sampling::Rng::new(11);
        let y: Vec<f64> = (0..300 * 2)
            .map(|_| rng.uniform_f64() * 4.0 - 2.0)
            .collect();
        let mut t = SpTree::<2>::new();
        t.build(&y);
        let mut seen = t.perm.clone();
        seen.sort();
        assert_eq!(seen, (0..300u32).collect::<Vec<_>>());
        for c in &t.cells {
            assert_eq!(c.count, c.end - c.start);
            if c.first_child != 0 {
                let s: u32 = (0..4)
                    .map(|q| t.cells[c.first_child as usize + q].count)
                    .sum();
                assert_eq!(s, c.count);
            } else {
                assert!(c.count <= 1);
            }
        }
    }

    #[test]
    fn duplicates_stop_at_max_depth() {
        let y = vec![1.0; 3 * 50];
        let mut t = SpTree::<3>::new();
        t.build(&y);
        assert!(t.cells.len() <= 1 + 8 * MAX_DEPTH);
        assert_eq!(t.cells[0].com, [1.0; 3]);
    }
}
