"""The own-data benchmark (fcnapps.bench_own) runs end to end on a tiny dataset and reports its figures."""
from fcnapps.bench_own import bench_own


def test_bench_own_reports_the_loader_rate_against_the_iteration_time(tmp_path):
    lines = []
    r = bench_own(str(tmp_path / 'd'), 'gray', n_train=3, size=(24, 28), width=1 / 32, stride=32, samples=4,
                  iterations=1, log=lines.append)
    assert r['channels'] == 1 and r['stride'] == 32
    for key in ('loader_images_per_s', 'sync_images_per_s', 'iteration_s', 'layer_iteration_s'):
        assert r[key] > 0, key
    assert r['headroom'] == r['loader_images_per_s'] * r['iteration_s']
    assert len(lines) == 2 and 'images/s' in lines[0] and 'images per iteration' in lines[1]
