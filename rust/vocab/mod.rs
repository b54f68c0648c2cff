//! Vocabulary: counting, trimming, sorting, Huffman codes.
