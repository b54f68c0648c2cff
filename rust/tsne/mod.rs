//! Barnes-Hut t-SNE.
