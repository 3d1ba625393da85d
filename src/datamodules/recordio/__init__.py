"""InsightFace / MXNet RecordIO face datasets (``train.rec`` + ``train.idx``), read and written without mxnet."""
from src.datamodules.recordio.datamodule import RecordFaceDataModule
from src.datamodules.recordio.reader import RecordReader
from src.datamodules.recordio.writer import RecordWriter

__all__ = ["RecordFaceDataModule", "RecordReader", "RecordWriter"]
