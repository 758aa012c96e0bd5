"""Class names of the four datasets, in model output order (those of the reference repository's
data/*/classes*.txt; tests/test_data_synthetic.py checks them against those files where they are present). The dataset-family records (families.py) name
them per score head; datalayers.classes re-exports them."""

VOC = ('background', 'aeroplane', 'bicycle', 'bird', 'boat', 'bottle', 'bus', 'car', 'cat', 'chair', 'cow',
       'diningtable', 'dog', 'horse', 'motorbike', 'person', 'pottedplant', 'sheep', 'sofa', 'train', 'tvmonitor')

SIFTFLOW_SEM = ('awning', 'balcony', 'bird', 'boat', 'bridge', 'building', 'bus', 'car', 'cow', 'crosswalk',
                'desert', 'door', 'fence', 'field', 'grass', 'moon', 'mountain', 'person', 'plant', 'pole', 'river',
                'road', 'rock', 'sand', 'sea', 'sidewalk', 'sign', 'sky', 'staircase', 'streetlight', 'sun', 'tree',
                'window')
SIFTFLOW_GEO = ('sky', 'horizontal', 'vertical')
#: 0-based semantic classes absent from the SIFT Flow test set, excluded from its metrics by the paper
SIFTFLOW_ABSENT = (8, 10, 15)  # cow, desert, moon

NYUD40 = ('wall', 'floor', 'cabinet', 'bed', 'chair', 'sofa', 'table', 'door', 'window', 'bookshelf', 'picture',
          'counter', 'blinds', 'desk', 'shelves', 'curtain', 'dresser', 'pillow', 'mirror', 'floor mat', 'clothes',
          'ceiling', 'books', 'refridgerator', 'television', 'paper', 'towel', 'shower curtain', 'box',
          'whiteboard', 'person', 'night stand', 'toilet', 'sink', 'lamp', 'bathtub', 'bag', 'otherstructure',
          'otherfurniture', 'otherprop')

#: PASCAL-Context 59-class task, with 0 = background/other in front (60 outputs)
CONTEXT60 = ('background', 'aeroplane', 'bicycle', 'bird', 'boat', 'bottle', 'bus', 'car', 'cat', 'chair', 'cow',
             'diningtable', 'dog', 'horse', 'motorbike', 'person', 'pottedplant', 'sheep', 'sofa', 'train',
             'tvmonitor', 'bag', 'bed', 'bench', 'book', 'building', 'cabinet', 'ceiling', 'clothes', 'computer',
             'cup', 'door', 'fence', 'floor', 'flower', 'food', 'grass', 'ground', 'keyboard', 'light', 'mountain',
             'mouse', 'curtain', 'platform', 'sign', 'plate', 'road', 'rock', 'shelves', 'sidewalk', 'sky', 'snow',
             'bedcloth', 'track', 'tree', 'truck', 'wall', 'water', 'window', 'wood')
