"""Building and using the face gallery: embed images with TTA and store them in the vector store."""
