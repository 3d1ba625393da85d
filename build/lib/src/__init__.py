"""facerec: face-recognition training (ResNet + margin heads) and Milvus gallery search."""
