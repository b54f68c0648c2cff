//! Poincaré embeddings (Nickel & Kiela, 2017) trained with Riemannian SGD.
