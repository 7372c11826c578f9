// objects: src/ml/linear.o src/ml/cd.o src/llm/llmutil.o src/vector/vecdist.o
/*
 * test_ml_linear.c
 *	  Unit tests of the linear family of the ML core: ordinary least
 *	  squares and ridge (linear.c), lasso and elastic net (cd.c).
 *
 * The expected coefficients come from scikit-learn 1.2.1 (Debian's
 * python3-sklearn), computed once on the first 120 rows of its diabetes
 * data set (embedded below) by this script, and pasted as constants:
 *
 *   X = np.loadtxt(gzip.open(D + 'diabetes_data_raw.csv.gz'))[:120]
 *   y = np.loadtxt(gzip.open(D + 'diabetes_target.csv.gz'))[:120]
 *   std:  (X - X.mean(0)) / X.std(0)
 *   sing: np.hstack([X, X[:, 2:3], np.full((120, 1), 3.7)])
 *         (a duplicate of bmi and a constant column)
 *   near: np.hstack([X, 2 * X[:, 2:3] + 1e-6 * X[:, 0:1]])
 *         (a column that is an exact combination of two others)
 *   for each case: Model(**params).fit(data[:rows], y[:rows]);
 *   print(coef_, intercept_, n_iter_)
 * except where a case says otherwise.
 *
 * Set ML_LINEAR_BENCH=1 to also time a 1M x 20 synthetic fit.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ml/ml.h"
#include "unit.h"
#include "unitmath.h"

#define DIAB_ROWS 120
#define DIAB_COLS 10
#define MAX_COLS 12

enum
{
	DATA_RAW,					/* the 10 raw columns */
	DATA_STD,					/* standardized (population std) */
	DATA_SING,					/* + duplicate of bmi + constant 3.7 */
	DATA_NEAR					/* + 2 bmi + 1e-6 age */
};

typedef struct LinearCase
{
	const char *name;
	int			data;
	MlAlgorithm alg;
	double		alpha;
	double		l1_ratio;
	bool		fit_intercept;
	int			rows;
	double		coef[MAX_COLS];
	double		intercept;
	int			n_iter;
} LinearCase;

/* rows 0..119 of diabetes_data_raw.csv.gz: age sex bmi bp s1..s6 */
static const double diabetes_x[DIAB_ROWS][DIAB_COLS] = {
	{59, 2, 32.1, 101, 157, 93.2, 38, 4, 4.8598, 87},
	{48, 1, 21.6, 87, 183, 103.2, 70, 3, 3.8918, 69},
	{72, 2, 30.5, 93, 156, 93.6, 41, 4, 4.6728, 85},
	{24, 1, 25.3, 84, 198, 131.4, 40, 5, 4.8903, 89},
	{50, 1, 23, 101, 192, 125.4, 52, 4, 4.2905, 80},
	{23, 1, 22.6, 89, 139, 64.8, 61, 2, 4.1897, 68},
	{36, 2, 22, 90, 160, 99.6, 50, 3, 3.9512, 82},
	{66, 2, 26.2, 114, 255, 185, 56, 4.55, 4.2485, 92},
	{60, 2, 32.1, 83, 179, 119.4, 42, 4, 4.4773, 94},
	{29, 1, 30, 85, 180, 93.4, 43, 4, 5.3845, 88},
	{22, 1, 18.6, 97, 114, 57.6, 46, 2, 3.9512, 83},
	{56, 2, 28, 85, 184, 144.8, 32, 6, 3.5835, 77},
	{53, 1, 23.7, 92, 186, 109.2, 62, 3, 4.3041, 81},
	{50, 2, 26.2, 97, 186, 105.4, 49, 4, 5.0626, 88},
	{61, 1, 24, 91, 202, 115.4, 72, 3, 4.2905, 73},
	{34, 2, 24.7, 118, 254, 184.2, 39, 7, 5.037, 81},
	{47, 1, 30.3, 109, 207, 100.2, 70, 3, 5.2149, 98},
	{68, 2, 27.5, 111, 214, 147, 39, 5, 4.9416, 91},
	{38, 1, 25.4, 84, 162, 103, 42, 4, 4.4427, 87},
	{41, 1, 24.7, 83, 187, 108.2, 60, 3, 4.5433, 78},
	{35, 1, 21.1, 82, 156, 87.8, 50, 3, 4.5109, 95},
	{25, 2, 24.3, 95, 162, 98.6, 54, 3, 3.8501, 87},
	{25, 1, 26, 92, 187, 120.4, 56, 3, 3.9703, 88},
	{61, 2, 32, 103.67, 210, 85.2, 35, 6, 6.107, 124},
	{31, 1, 29.7, 88, 167, 103.4, 48, 4, 4.3567, 78},
	{30, 2, 25.2, 83, 178, 118.4, 34, 5, 4.852, 83},
	{19, 1, 19.2, 87, 124, 54, 57, 2, 4.1744, 90},
	{42, 1, 31.9, 83, 158, 87.6, 53, 3, 4.4659, 101},
	{63, 1, 24.4, 73, 160, 91.4, 48, 3, 4.6347, 78},
	{67, 2, 25.8, 113, 158, 54.2, 64, 2, 5.2933, 104},
	{32, 1, 30.5, 89, 182, 110.6, 56, 3, 4.3438, 89},
	{42, 1, 20.3, 71, 161, 81.2, 66, 2, 4.2341, 81},
	{58, 2, 38, 103, 150, 107.2, 22, 7, 4.6444, 98},
	{57, 1, 21.7, 94, 157, 58, 82, 2, 4.4427, 92},
	{53, 1, 20.5, 78, 147, 84.2, 52, 3, 3.989, 75},
	{62, 2, 23.5, 80.33, 225, 112.8, 86, 2.62, 4.8752, 96},
	{52, 1, 28.5, 110, 195, 97.2, 60, 3, 5.2417, 85},
	{46, 1, 27.4, 78, 171, 88, 58, 3, 4.8283, 90},
	{48, 2, 33, 123, 253, 163.6, 44, 6, 5.425, 97},
	{48, 2, 27.7, 73, 191, 119.4, 46, 4, 4.852, 92},
	{50, 2, 25.6, 101, 229, 162.2, 43, 5, 4.7791, 114},
	{21, 1, 20.1, 63, 135, 69, 54, 3, 4.0943, 89},
	{32, 2, 25.4, 90.33, 153, 100.4, 34, 4.5, 4.5326, 83},
	{54, 1, 24.2, 74, 204, 109, 82, 2, 4.1744, 109},
	{61, 2, 32.7, 97, 177, 118.4, 29, 6, 4.9972, 87},
	{56, 2, 23.1, 104, 181, 116.4, 47, 4, 4.4773, 79},
	{33, 1, 25.3, 85, 155, 85, 51, 3, 4.5539, 70},
	{27, 1, 19.6, 78, 128, 68, 43, 3, 4.4427, 71},
	{67, 2, 22.5, 98, 191, 119.2, 61, 3, 3.989, 86},
	{37, 2, 27.7, 93, 180, 119.4, 30, 6, 5.0304, 88},
	{58, 1, 25.7, 99, 157, 91.6, 49, 3, 4.4067, 93},
	{65, 2, 27.9, 103, 159, 96.8, 42, 4, 4.6151, 86},
	{34, 1, 25.5, 93, 218, 144, 57, 4, 4.4427, 88},
	{46, 1, 24.9, 115, 198, 129.6, 54, 4, 4.2767, 103},
	{35, 1, 28.7, 97, 204, 126.8, 64, 3, 4.1897, 93},
	{37, 1, 21.8, 84, 184, 101, 73, 3, 3.912, 93},
	{37, 1, 30.2, 87, 166, 96, 40, 4.15, 5.0106, 87},
	{41, 1, 20.5, 80, 124, 48.8, 64, 2, 4.0254, 75},
	{60, 1, 20.4, 105, 198, 78.4, 99, 2, 4.6347, 79},
	{66, 2, 24, 98, 236, 146.4, 58, 4, 5.0626, 96},
	{29, 1, 26, 83, 141, 65.2, 64, 2, 4.0775, 83},
	{37, 2, 26.8, 79, 157, 98, 28, 6, 5.0434, 96},
	{41, 2, 25.7, 83, 181, 106.6, 66, 3, 3.7377, 85},
	{39, 1, 22.9, 77, 204, 143.2, 46, 4, 4.3041, 74},
	{67, 2, 24, 83, 143, 77.2, 49, 3, 4.4308, 94},
	{36, 2, 24.1, 112, 193, 125, 35, 6, 5.1059, 95},
	{46, 2, 24.7, 85, 174, 123.2, 30, 6, 4.6444, 96},
	{60, 2, 25, 89.67, 185, 120.8, 46, 4.02, 4.5109, 92},
	{59, 2, 23.6, 83, 165, 100, 47, 4, 4.4998, 92},
	{53, 1, 22.1, 93, 134, 76.2, 46, 3, 4.0775, 96},
	{48, 1, 19.9, 91, 189, 109.6, 69, 3, 3.9512, 101},
	{48, 1, 29.5, 131, 207, 132.2, 47, 4, 4.9345, 106},
	{66, 2, 26, 91, 264, 146.6, 65, 4, 5.5683, 87},
	{52, 2, 24.5, 94, 217, 149.4, 48, 5, 4.585, 89},
	{52, 2, 26.6, 111, 209, 126.4, 61, 3, 4.6821, 109},
	{46, 2, 23.5, 87, 181, 114.8, 44, 4, 4.7095, 98},
	{40, 2, 29, 115, 97, 47.2, 35, 2.77, 4.3041, 95},
	{22, 1, 23, 73, 161, 97.8, 54, 3, 3.8286, 91},
	{50, 1, 21, 88, 140, 71.8, 35, 4, 5.112, 71},
	{20, 1, 22.9, 87, 191, 128.2, 53, 4, 3.8918, 85},
	{68, 1, 27.5, 107, 241, 149.6, 64, 4, 4.92, 90},
	{52, 2, 24.3, 86, 197, 133.6, 44, 5, 4.5747, 91},
	{44, 1, 23.1, 87, 213, 126.4, 77, 3, 3.8712, 72},
	{38, 1, 27.3, 81, 146, 81.6, 47, 3, 4.4659, 81},
	{49, 1, 22.7, 65.33, 168, 96.2, 62, 2.71, 3.8918, 60},
	{61, 1, 33, 95, 182, 114.8, 54, 3, 4.1897, 74},
	{29, 2, 19.4, 83, 152, 105.8, 39, 4, 3.5835, 83},
	{61, 1, 25.8, 98, 235, 125.8, 76, 3, 5.112, 82},
	{34, 2, 22.6, 75, 166, 91.8, 60, 3, 4.2627, 108},
	{36, 1, 21.9, 89, 189, 105.2, 68, 3, 4.3694, 96},
	{52, 1, 24, 83, 167, 86.6, 71, 2, 3.8501, 94},
	{61, 1, 31.2, 79, 235, 156.8, 47, 5, 5.0499, 96},
	{43, 1, 26.8, 123, 193, 102.2, 67, 3, 4.7791, 94},
	{35, 1, 20.4, 65, 187, 105.6, 67, 2.79, 4.2767, 78},
	{27, 1, 24.8, 91, 189, 106.8, 69, 3, 4.1897, 69},
	{29, 1, 21, 71, 156, 97, 38, 4, 4.654, 90},
	{64, 2, 27.3, 109, 186, 107.6, 38, 5, 5.3083, 99},
	{41, 1, 34.6, 87.33, 205, 142.6, 41, 5, 4.6728, 110},
	{49, 2, 25.9, 91, 178, 106.6, 52, 3, 4.5747, 75},
	{48, 1, 20.4, 98, 209, 139.4, 46, 5, 4.7707, 78},
	{53, 1, 28, 88, 233, 143.8, 58, 4, 5.0499, 91},
	{53, 2, 22.2, 113, 197, 115.2, 67, 3, 4.3041, 100},
	{23, 1, 29, 90, 216, 131.4, 65, 3, 4.585, 91},
	{65, 2, 30.2, 98, 219, 160.6, 40, 5, 4.5218, 84},
	{41, 1, 32.4, 94, 171, 104.4, 56, 3, 3.9703, 76},
	{55, 2, 23.4, 83, 166, 101.6, 46, 4, 4.5218, 96},
	{22, 1, 19.3, 82, 156, 93.2, 52, 3, 3.989, 71},
	{56, 1, 31, 78.67, 187, 141.4, 34, 5.5, 4.0604, 90},
	{54, 2, 30.6, 103.33, 144, 79.8, 30, 4.8, 5.1417, 101},
	{59, 2, 25.5, 95.33, 190, 139.4, 35, 5.43, 4.3567, 117},
	{60, 2, 23.4, 88, 153, 89.8, 58, 3, 3.2581, 95},
	{54, 1, 26.8, 87, 206, 122, 68, 3, 4.382, 80},
	{25, 1, 28.3, 87, 193, 128, 49, 4, 4.382, 92},
	{54, 2, 27.7, 113, 200, 128.4, 37, 5, 5.1533, 113},
	{55, 1, 36.6, 113, 199, 94.4, 43, 4.63, 5.7301, 97},
	{40, 2, 26.5, 93, 236, 147, 37, 7, 5.5607, 92},
	{62, 2, 31.8, 115, 199, 128.6, 44, 5, 4.8828, 98},
	{65, 1, 24.4, 120, 222, 135.6, 37, 6, 5.5094, 124},
	{33, 2, 25.4, 102, 206, 141, 39, 5, 4.8675, 105},
	{53, 1, 22, 94, 175, 88, 59, 3, 4.9416, 98},
};

/* the same rows of diabetes_target.csv.gz */
static const double diabetes_y[DIAB_ROWS] = {
	151, 75, 141, 206, 135, 97, 138, 63, 110, 310,
	101, 69, 179, 185, 118, 171, 166, 144, 97, 168,
	68, 49, 68, 245, 184, 202, 137, 85, 131, 283,
	129, 59, 341, 87, 65, 102, 265, 276, 252, 90,
	100, 55, 61, 92, 259, 53, 190, 142, 75, 142,
	155, 225, 59, 104, 182, 128, 52, 37, 170, 170,
	61, 144, 52, 128, 71, 163, 150, 97, 160, 178,
	48, 270, 202, 111, 85, 42, 170, 200, 252, 113,
	143, 51, 52, 210, 65, 141, 55, 134, 42, 111,
	98, 164, 48, 96, 90, 162, 150, 279, 92, 83,
	128, 102, 302, 198, 95, 53, 134, 144, 232, 81,
	104, 59, 246, 297, 258, 229, 275, 281, 179, 200,
};

static const LinearCase linear_cases[] = {
	/* LinearRegression() on raw data, 120 rows */
	{"ols", DATA_RAW, ML_ALG_LINEAR_REGRESSION, 0.0, 1.0, true, 120,
		{-0.26333823392657385, -32.487841735322263, 4.8268315536347188, 0.84712253071599619, 0.24909054764752625, -0.67317033716438779, -0.80359466213165176, 8.2225412155269382, 52.195167960443037, 0.15771391614692032},
	-214.8579540602411, 1},
	/* LinearRegression(fit_intercept=False) on raw data, 120 rows */
	{"ols_noint", DATA_RAW, ML_ALG_LINEAR_REGRESSION, 0.0, 1.0, false, 120,
		{-0.16280483224484257, -34.727785200238067, 4.2625871295239239, 0.8104736323714139, 1.8991656436136424, -2.148147343603565, -3.0990400649608518, 0.81358712911208597, 13.880102862968533, -0.033753960902410896},
	0, 1},
	/* Ridge(alpha=1) on raw data, 120 rows */
	{"ridge", DATA_RAW, ML_ALG_LINEAR_REGRESSION, 1.0, 1.0, true, 120,
		{-0.26945116032223954, -31.011416122574317, 4.8740877638675721, 0.8570402006598753, 0.69651063356249254, -1.0917915226877724, -1.2962553694331229, 7.2113375461845202, 40.612837748106472, 0.13946738525393854},
	-171.11932555886423, 1},
	/* Ridge(alpha=1, fit_intercept=False) on raw data, 120 rows */
	{"ridge_noint", DATA_RAW, ML_ALG_LINEAR_REGRESSION, 1.0, 1.0, false, 120,
		{-0.18566531049743093, -32.874372304204854, 4.3310135151801985, 0.81063133323880965, 1.9452860854715857, -2.1952887916229957, -3.107938485342959, 0.81190895341733305, 12.589550193435503, -0.037237877589752583},
	0, 1},
	/* Lasso(alpha=0.1) on raw data, 120 rows */
	{"lasso", DATA_RAW, ML_ALG_LASSO, 0.1, 1.0, true, 120,
		{-0.26598066145513499, -31.83220231802353, 4.8354483046926804, 0.84858100963258787, 0.37894907230747865, -0.78620311982739854, -0.96532742727093668, 7.5115203930060197, 49.07029467090031, 0.15158342875709691},
	-201.56588688414749, 494},
	/* Lasso(alpha=0.1, fit_intercept=False) on raw data, 120 rows */
	{"lasso_noint", DATA_RAW, ML_ALG_LASSO, 0.1, 1.0, false, 120,
		{-0.1367059869500972, -34.709384486915745, 4.1698349764343403, 0.8042182837292462, 1.6936859902568189, -1.9439654559404087, -3.0015015235005906, 0, 17.30328663015953, -0.039992498597010297},
	0, 1000},
	/* ElasticNet(alpha=0.1, l1_ratio=0.5) on raw data, 120 rows */
	{"enet", DATA_RAW, ML_ALG_ELASTIC_NET, 0.1, 0.5, true, 120,
		{-0.32220992781076341, -24.623055445455584, 5.0163009701088468, 0.86249913629093722, 1.5637622494789098, -1.8911055593927033, -2.2398463053165107, 4.3762069778669979, 18.916193245803282, 0.082868469361173258},
	-89.652641150662816, 316},
	/* Lasso(alpha=0.1) on std data, 120 rows */
	{"lasso_std", DATA_STD, ML_ALG_LASSO, 0.1, 1.0, true, 120,
		{-3.4948054581077588, -15.908902859922799, 18.933278021301781, 11.081080463208325, 0, -11.804830471022235, -7.2485785424577145, 10.209695354482092, 28.506773334282681, 1.8880473217292244},
	141.27500000000001, 28},
	/* ElasticNet(alpha=0.1, l1_ratio=0.5) on std data, 120 rows */
	{"enet_std", DATA_STD, ML_ALG_ELASTIC_NET, 0.1, 0.5, true, 120,
		{-3.2528786615247598, -14.890446028590027, 18.345969851003733, 10.758509276888432, -0, -10.455919710807922, -7.819004035639189, 8.8224528768208526, 27.364786978602286, 2.2679917888131431},
	141.27500000000001, 15},
	/* Lasso() on std data, 120 rows */
	{"lasso_std_a1", DATA_STD, ML_ALG_LASSO, 1.0, 1.0, true, 120,
		{-2.5526886798651405, -14.087853380492069, 18.343296667859054, 9.8649576634163338, -0, -8.3806472133547061, -8.9043995855882123, 5.4406328861960453, 29.152907196393944, 1.1139072111142942},
	141.27500000000001, 29},
	/* LinearRegression() on sing data, 120 rows */
	{"ols_sing", DATA_SING, ML_ALG_LINEAR_REGRESSION, 0.0, 1.0, true, 120,
		{-0.26333823392658828, -32.487841735322142, 2.4134157768173785, 0.8471225307160033, 0.24909054764753336, -0.67317033716439134, -0.80359466213166053, 8.2225412155268973, 52.195167960442959, 0.1577139161469221, 2.4134157768173714, 3.9048908664523399e-26},
	-214.85795406024212, 1},
	/* Ridge(alpha=1) on sing data, 120 rows */
	{"ridge_sing", DATA_SING, ML_ALG_LINEAR_REGRESSION, 1.0, 1.0, true, 120,
		{-0.26956185531084281, -31.00891000414174, 2.4380387313780498, 0.85695917592826065, 0.69640408549751265, -1.0917333276763126, -1.295935624423429, 7.2118415182901838, 40.611933956100572, 0.13942781491102343, 2.4380387313826595, 6.4860356514706935e-26},
	-171.15912791641367, 1},
	/* Lasso(alpha=0.1) on sing data, 120 rows */
	{"lasso_sing", DATA_SING, ML_ALG_LASSO, 0.1, 1.0, true, 120,
		{-0.26598065298472451, -31.832202089879431, 4.8345513789223977, 0.84858101022007315, 0.3789483940119211, -0.7862024990564086, -0.9653266362320454, 7.5115223127208637, 49.070308965552165, 0.15158346384032464, 0.00089682979978408447, 0},
	-201.56594555633879, 514},
	/* ElasticNet(alpha=0.1, l1_ratio=0.5) on sing data, 120 rows */
	{"enet_sing", DATA_SING, ML_ALG_ELASTIC_NET, 0.1, 0.5, true, 120,
		{-0.32285981922939794, -24.610772896455007, 2.523454924884045, 0.86200854409280647, 1.5630385446819444, -1.8906689028858059, -2.2378749365093977, 4.3790267743312681, 18.912862578326013, 0.082646335445566918, 2.505044558009601, -0},
	-89.901453129874227, 1000},
	/* LinearRegression() on near data, 120 rows */
	{"ols_near", DATA_NEAR, ML_ALG_LINEAR_REGRESSION, 0.0, 1.0, true, 120,
		{-0.26334016465915833, -32.487841735322327, 0.96536641606308748, 0.84712253071599619, 0.24909054764752625, -0.67317033716438601, -0.80359466213164599, 8.2225412155269719, 52.195167960442916, 0.1577139161469221, 1.9307325687858228},
	-214.85795406024098, 1},
	/* Ridge(alpha=1) on near data, 120 rows */
	{"ridge_near", DATA_NEAR, ML_ALG_LINEAR_REGRESSION, 1.0, 1.0, true, 120,
		{-0.26963026647359128, -31.007405352067092, 0.97545452023320278, 0.8569105293173368, 0.69634011489636438, -1.0916983878623656, -1.2957436521363423, 7.2121440990665935, 40.611391326130345, 0.13940405719326024, 1.9509087708113539},
	-171.18302492627291, 1},
	/*
	 * numpy.linalg.lstsq(Xc, yc, rcond=None) on the centered data: with its
	 * cutoff of eps, LinearRegression keeps the rounding-level sixth singular
	 * value of this rank-5 matrix and returns another (noise-dependent) exact
	 * fit, not the minimum-norm one
	 */
	/* LinearRegression() on raw data, 6 rows */
	{"ols_small", DATA_RAW, ML_ALG_LINEAR_REGRESSION, 0.0, 1.0, true, 6,
		{-0.73355947039169989, -0.038841266833006517, -0.3223488765729946, -0.80408035943772138, -0.83047117561696449, 1.306017284821291, -2.2535545091178224, 0.093791659626024995, 0.040437367838608781, 0.99839036866633568},
	292.78379526827825, 1},
	/* Ridge(alpha=1) on raw data, 6 rows */
	{"ridge_small", DATA_RAW, ML_ALG_LINEAR_REGRESSION, 1.0, 1.0, true, 6,
		{-0.73946855257648458, -0.033234538518044601, -0.26013340217395742, -0.7840831198924586, -0.77813918745612631, 1.2549979281847312, -2.2391829679668751, 0.095860498459803517, 0.042901444423302557, 1.0249218890045788},
	282.99501263400191, 1},
	/* Lasso(alpha=0.1) on raw data, 6 rows */
	{"lasso_small", DATA_RAW, ML_ALG_LASSO, 0.1, 1.0, true, 6,
		{-0.64602268995800827, -0, -0.52519516563487134, -0.79414871970862633, -0.17682940369425298, 0.75293585368591465, -3.2110449202949485, 0, -0, 0},
	366.00045144300748, 843},
};

/* columns of a data set */
static int
DataCols(int data)
{
	return data == DATA_SING ? 12 : data == DATA_NEAR ? 11 : DIAB_COLS;
}

/* build data set `data` on the first rows rows (x malloc'ed, y borrowed) */
static void
BuildData(int data, int rows, MlData *out)
{
	int			d = DataCols(data);
	double	   *x = calloc((size_t) rows * d, sizeof(double));
	double		mean[DIAB_COLS] = {0};
	double		sd[DIAB_COLS] = {0};

	for (int j = 0; j < DIAB_COLS; j++)
	{
		for (int i = 0; i < DIAB_ROWS; i++)
			mean[j] += diabetes_x[i][j];
		mean[j] /= DIAB_ROWS;
		for (int i = 0; i < DIAB_ROWS; i++)
			sd[j] += (diabetes_x[i][j] - mean[j]) * (diabetes_x[i][j] - mean[j]);
		sd[j] = sqrt(sd[j] / DIAB_ROWS);
	}
	for (int i = 0; i < rows; i++)
	{
		double	   *row = x + (size_t) i * d;

		for (int j = 0; j < DIAB_COLS; j++)
			row[j] = data == DATA_STD ? (diabetes_x[i][j] - mean[j]) / sd[j] :
				diabetes_x[i][j];
		if (data == DATA_SING)
		{
			row[10] = diabetes_x[i][2];
			row[11] = 3.7;
		}
		else if (data == DATA_NEAR)
			row[10] = 2 * diabetes_x[i][2] + 1e-6 * diabetes_x[i][0];
	}
	out->x.rows = rows;
	out->x.cols = d;
	out->x.x = x;
	out->y = (double *) diabetes_y;
	out->n_classes = 0;
}

/* parameters as MlParamsDefault would give, with the case's overrides */
static void
CaseParams(MlParams *p, double alpha, double l1_ratio, bool fit_intercept)
{
	memset(p, 0, sizeof(*p));
	p->alpha = alpha;
	p->l1_ratio = l1_ratio;
	p->max_iter = 1000;
	p->tol = 1e-4;
	p->fit_intercept = fit_intercept;
}

/* fit with the entry point of the algorithm */
static int
Fit(MlAlgorithm alg, const MlParams *p, const MlData *data, MlModel *m,
	LlmError *err)
{
	memset(m, 0, sizeof(*m));
	if (alg == ML_ALG_LINEAR_REGRESSION)
		return MlLinearFit(p, data, m, err);
	return MlCoordinateDescentFit(alg, p, data, m, err);
}

/* free what a fit allocated */
static void
FreeModel(MlModel *m)
{
	free(m->coef);
	free(m->intercept);
	memset(m, 0, sizeof(*m));
}

/* every case of the table against scikit-learn's numbers */
static void
TestAgainstSklearn(void)
{
	for (size_t c = 0; c < sizeof(linear_cases) / sizeof(linear_cases[0]); c++)
	{
		const LinearCase *lc = &linear_cases[c];
		/* closed forms agree to rounding, CD to its stopping point */
		double		tol = lc->alg == ML_ALG_LINEAR_REGRESSION ? 1e-8 : 1e-6;
		MlData		data;
		MlParams	p;
		MlModel		m;
		LlmError	err = {0};
		int			rc;

		BuildData(lc->data, lc->rows, &data);
		CaseParams(&p, lc->alpha, lc->l1_ratio, lc->fit_intercept);
		rc = Fit(lc->alg, &p, &data, &m, &err);
		CHECK(rc == LLM_OK);
		if (rc != LLM_OK)
		{
			printf("case %s: %s\n", lc->name, err.message);
			free(data.x.x);
			continue;
		}
		CHECK(m.n_features == data.x.cols && m.n_outputs == 1);
		CHECK(m.task == ML_TASK_REGRESSION && m.algorithm == lc->alg);
		for (int j = 0; j < data.x.cols; j++)
			CHECK_NEAR(m.coef[j], lc->coef[j], tol);
		CHECK_NEAR(m.intercept[0], lc->intercept, tol);
		CHECK(m.n_iter == lc->n_iter);
		if (m.n_iter != lc->n_iter)
			printf("case %s: n_iter %d, want %d\n", lc->name, m.n_iter, lc->n_iter);
		FreeModel(&m);
		free(data.x.x);
	}
}

/* a zero target gives zero coefficients; a constant one, the intercept */
static void
TestConstantTarget(void)
{
	static const MlAlgorithm algs[] = {ML_ALG_LINEAR_REGRESSION, ML_ALG_LASSO, ML_ALG_ELASTIC_NET};
	double		y[DIAB_ROWS];

	for (int target = 0; target < 2; target++)
	{
		for (int i = 0; i < DIAB_ROWS; i++)
			y[i] = target == 0 ? 0.0 : 5.5;
		for (int a = 0; a < 3; a++)
		{
			for (int ridge = 0; ridge < 2; ridge++)
			{
				MlData		data;
				MlParams	p;
				MlModel		m;
				LlmError	err = {0};
				bool		zero = true;

				BuildData(DATA_SING, DIAB_ROWS, &data);
				data.y = y;
				CaseParams(&p, ridge ? 1.0 : (a == 0 ? 0.0 : 0.1), 0.5, true);
				CHECK(Fit(algs[a], &p, &data, &m, &err) == LLM_OK);
				for (int j = 0; j < data.x.cols; j++)
					zero &= (m.coef[j] == 0.0);
				CHECK(zero);
				CHECK(m.intercept[0] == y[0]);
				/* the coordinate descent stops at the fixed point */
				if (algs[a] != ML_ALG_LINEAR_REGRESSION)
					CHECK(m.n_iter == 1);
				FreeModel(&m);
				free(data.x.x);
			}
		}
	}
}

/* one row: nothing to learn but the intercept */
static void
TestOneRow(void)
{
	double		x[3] = {1.0, 2.0, 3.0};
	double		y[1] = {7.0};
	MlData		data = {{1, 3, x}, y, 0};
	MlParams	p;
	MlModel		m;
	LlmError	err = {0};

	CaseParams(&p, 0.0, 1.0, true);
	CHECK(Fit(ML_ALG_LINEAR_REGRESSION, &p, &data, &m, &err) == LLM_OK);
	CHECK(m.coef[0] == 0.0 && m.coef[1] == 0.0 && m.coef[2] == 0.0);
	CHECK(m.intercept[0] == 7.0);
	FreeModel(&m);
	CaseParams(&p, 0.1, 1.0, true);
	CHECK(Fit(ML_ALG_LASSO, &p, &data, &m, &err) == LLM_OK);
	CHECK(m.coef[0] == 0.0 && m.intercept[0] == 7.0);
	FreeModel(&m);
}

/* the n < d fit interpolates its training rows, as scikit-learn's does */
static void
TestInterpolates(void)
{
	MlData		data;
	MlParams	p;
	MlModel		m;
	LlmError	err = {0};

	BuildData(DATA_RAW, 6, &data);
	CaseParams(&p, 0.0, 1.0, true);
	CHECK(Fit(ML_ALG_LINEAR_REGRESSION, &p, &data, &m, &err) == LLM_OK);
	for (int i = 0; i < 6; i++)
	{
		double		pred = m.intercept[0];

		for (int j = 0; j < DIAB_COLS; j++)
			pred += m.coef[j] * data.x.x[i * DIAB_COLS + j];
		CHECK_NEAR(pred, diabetes_y[i], 1e-9);
	}
	FreeModel(&m);
	free(data.x.x);
}

/*
 * Many rows with a duplicated column and a one-hot group (whose columns
 * sum to 1, so dependent on the intercept): the minimum-norm solution
 * shares the duplicate's weight equally and gives the group zero-sum
 * coefficients, where a cutoff of eps alone (scikit-learn's) keeps
 * rounding-level singular values and returns huge opposite coefficients.
 */
static void
TestRankDeficientLarge(void)
{
	const int	n = 20000;
	const int	d = 7;
	double	   *x = malloc(sizeof(double) * n * d);
	double	   *y = malloc(sizeof(double) * n);
	uint64_t	rng;
	MlData		data;
	MlParams	p;
	MlModel		m;
	LlmError	err = {0};

	PcgSeed(&rng, 7);
	for (int i = 0; i < n; i++)
	{
		double	   *row = x + (size_t) i * d;
		int			cat = (int) PcgBounded(&rng, 3);

		row[0] = PcgUniform(&rng);
		row[1] = PcgUniform(&rng);
		row[2] = PcgUniform(&rng);
		row[3] = row[1];
		row[4] = cat == 0;
		row[5] = cat == 1;
		row[6] = cat == 2;
		/* category effects 1, 2, 6: centered, -2, -1, 3 */
		y[i] = 10.0 + row[0] + 2.0 * row[1] + 3.0 * row[2] +
			(cat == 0 ? 1.0 : cat == 1 ? 2.0 : 6.0);
	}
	data.x.rows = n;
	data.x.cols = d;
	data.x.x = x;
	data.y = y;
	data.n_classes = 0;
	CaseParams(&p, 0.0, 1.0, true);
	CHECK(Fit(ML_ALG_LINEAR_REGRESSION, &p, &data, &m, &err) == LLM_OK);
	CHECK_NEAR(m.coef[0], 1.0, 1e-8);
	CHECK_NEAR(m.coef[1], 1.0, 1e-8);
	CHECK_NEAR(m.coef[3], 1.0, 1e-8);
	CHECK_NEAR(m.coef[2], 3.0, 1e-8);
	CHECK_NEAR(m.coef[4], -2.0, 1e-8);
	CHECK_NEAR(m.coef[5], -1.0, 1e-8);
	CHECK_NEAR(m.coef[6], 3.0, 1e-8);
	CHECK_NEAR(m.intercept[0], 13.0, 1e-8);
	FreeModel(&m);

	/* ridge solves it directly */
	CaseParams(&p, 1e-3, 1.0, true);
	CHECK(Fit(ML_ALG_LINEAR_REGRESSION, &p, &data, &m, &err) == LLM_OK);
	CHECK_NEAR(m.coef[1], m.coef[3], 1e-9);
	CHECK_NEAR(m.coef[1], 1.0, 1e-4);
	CHECK_NEAR(m.coef[4] + m.coef[5] + m.coef[6], 0.0, 1e-6);
	FreeModel(&m);
	free(x);
	free(y);
}

/* refused arguments leave the model untouched */
static void
TestBadArguments(void)
{
	MlData		data;
	MlData		bad;
	MlParams	p;
	MlModel		m;
	LlmError	err = {0};
	double		saved;

	BuildData(DATA_RAW, DIAB_ROWS, &data);

	bad = data;
	bad.x.rows = 0;
	CaseParams(&p, 0.0, 1.0, true);
	CHECK(Fit(ML_ALG_LINEAR_REGRESSION, &p, &bad, &m, &err) == LLM_ERR_ARGUMENT);
	CHECK(m.coef == NULL && m.intercept == NULL);
	CHECK(strstr(err.message, "row") != NULL);
	CHECK(Fit(ML_ALG_LASSO, &p, &bad, &m, &err) == LLM_ERR_ARGUMENT);
	CHECK(m.coef == NULL);
	bad.x.rows = -5;
	CHECK(Fit(ML_ALG_LINEAR_REGRESSION, &p, &bad, &m, &err) == LLM_ERR_ARGUMENT);

	bad = data;
	bad.x.cols = 0;
	CHECK(Fit(ML_ALG_LINEAR_REGRESSION, &p, &bad, &m, &err) == LLM_ERR_ARGUMENT);
	CHECK(Fit(ML_ALG_ELASTIC_NET, &p, &bad, &m, &err) == LLM_ERR_ARGUMENT);
	bad = data;
	bad.y = NULL;
	CHECK(Fit(ML_ALG_LINEAR_REGRESSION, &p, &bad, &m, &err) == LLM_ERR_ARGUMENT);
	CHECK(Fit(ML_ALG_LASSO, &p, &bad, &m, &err) == LLM_ERR_ARGUMENT);
	CHECK(MlLinearFit(NULL, &data, &m, &err) == LLM_ERR_ARGUMENT);
	CHECK(MlCoordinateDescentFit(ML_ALG_LASSO, &p, NULL, &m, &err) == LLM_ERR_ARGUMENT);
	CHECK(MlCoordinateDescentFit(ML_ALG_KMEANS, &p, &data, &m, &err) == LLM_ERR_ARGUMENT);

	CaseParams(&p, -1.0, 0.5, true);
	CHECK(Fit(ML_ALG_LINEAR_REGRESSION, &p, &data, &m, &err) == LLM_ERR_ARGUMENT);
	CHECK(strstr(err.message, "alpha") != NULL);
	CHECK(Fit(ML_ALG_LASSO, &p, &data, &m, &err) == LLM_ERR_ARGUMENT);
	CaseParams(&p, NAN, 0.5, true);
	CHECK(Fit(ML_ALG_LINEAR_REGRESSION, &p, &data, &m, &err) == LLM_ERR_ARGUMENT);
	CHECK(Fit(ML_ALG_ELASTIC_NET, &p, &data, &m, &err) == LLM_ERR_ARGUMENT);
	CaseParams(&p, INFINITY, 0.5, true);
	CHECK(Fit(ML_ALG_LINEAR_REGRESSION, &p, &data, &m, &err) == LLM_ERR_ARGUMENT);
	CaseParams(&p, 0.1, 1.5, true);
	CHECK(Fit(ML_ALG_ELASTIC_NET, &p, &data, &m, &err) == LLM_ERR_ARGUMENT);
	CHECK(strstr(err.message, "l1_ratio") != NULL);
	/* lasso ignores l1_ratio */
	CHECK(Fit(ML_ALG_LASSO, &p, &data, &m, &err) == LLM_OK);
	FreeModel(&m);
	CaseParams(&p, 0.1, 0.5, true);
	p.max_iter = 0;
	CHECK(Fit(ML_ALG_LASSO, &p, &data, &m, &err) == LLM_ERR_ARGUMENT);
	CHECK(strstr(err.message, "max_iter") != NULL);
	CaseParams(&p, 0.1, 0.5, true);
	p.tol = -1e-4;
	CHECK(Fit(ML_ALG_LASSO, &p, &data, &m, &err) == LLM_ERR_ARGUMENT);
	CHECK(strstr(err.message, "tol") != NULL);

	/* non-finite data */
	CaseParams(&p, 0.1, 0.5, true);
	saved = data.x.x[37 * DIAB_COLS + 4];
	data.x.x[37 * DIAB_COLS + 4] = NAN;
	CHECK(Fit(ML_ALG_LINEAR_REGRESSION, &p, &data, &m, &err) == LLM_ERR_ARGUMENT);
	CHECK(strstr(err.message, "row 37") != NULL);
	CHECK(Fit(ML_ALG_LASSO, &p, &data, &m, &err) == LLM_ERR_ARGUMENT);
	CHECK(m.coef == NULL);
	data.x.x[37 * DIAB_COLS + 4] = saved;
	bad = data;
	bad.y = calloc(DIAB_ROWS, sizeof(double));
	bad.y[3] = INFINITY;
	CHECK(Fit(ML_ALG_LINEAR_REGRESSION, &p, &bad, &m, &err) == LLM_ERR_ARGUMENT);
	CHECK(Fit(ML_ALG_ELASTIC_NET, &p, &bad, &m, &err) == LLM_ERR_ARGUMENT);
	free(bad.y);
	free(data.x.x);
}

/* interrupt hook that always asks to stop */
static bool
AlwaysInterrupt(void)
{
	return true;
}

/* coordinate descent gives up when interrupted */
static void
TestCancel(void)
{
	MlData		data;
	MlParams	p;
	MlModel		m;
	LlmError	err = {0};

	BuildData(DATA_RAW, DIAB_ROWS, &data);
	CaseParams(&p, 0.1, 0.5, true);
	LlmInterruptHook = AlwaysInterrupt;
	CHECK(Fit(ML_ALG_LASSO, &p, &data, &m, &err) == LLM_ERR_CANCELLED);
	CHECK(m.coef == NULL);
	LlmInterruptHook = NULL;
	free(data.x.x);
}

/* time OLS and lasso on 1M x 20 synthetic rows (ML_LINEAR_BENCH=1) */
static void
Benchmark(void)
{
	const int64_t n = 1000000;
	const int	d = 20;
	double	   *x = malloc(sizeof(double) * n * d);
	double	   *y = malloc(sizeof(double) * n);
	double		truth[20];
	uint64_t	rng;
	MlData		data;
	MlParams	p;
	MlModel		m;
	LlmError	err = {0};
	double		t0;
	double		worst = 0.0;

	PcgSeed(&rng, 42);
	for (int j = 0; j < d; j++)
		truth[j] = (j % 3 == 0) ? 0.0 : 4.0 * PcgUniform(&rng) - 2.0;
	for (int64_t i = 0; i < n; i++)
	{
		double		v = 3.0;

		for (int j = 0; j < d; j++)
		{
			x[i * d + j] = 10.0 * PcgUniform(&rng) + j;
			v += truth[j] * x[i * d + j];
		}
		y[i] = v + (PcgUniform(&rng) - 0.5);
	}
	data.x.rows = n;
	data.x.cols = d;
	data.x.x = x;
	data.y = y;
	data.n_classes = 0;

	CaseParams(&p, 0.0, 1.0, true);
	t0 = UnitNow();
	CHECK(Fit(ML_ALG_LINEAR_REGRESSION, &p, &data, &m, &err) == LLM_OK);
	printf("bench: OLS 1M x 20: %.3f s\n", UnitNow() - t0);
	for (int j = 0; j < d; j++)
		worst = fmax(worst, fabs(m.coef[j] - truth[j]));
	CHECK(worst < 1e-3);
	CHECK_NEAR(m.intercept[0], 3.0, 1e-2);
	FreeModel(&m);

	CaseParams(&p, 0.01, 1.0, true);
	t0 = UnitNow();
	CHECK(Fit(ML_ALG_LASSO, &p, &data, &m, &err) == LLM_OK);
	printf("bench: lasso(alpha=0.01) 1M x 20: %.3f s, %d sweeps\n",
		   UnitNow() - t0, m.n_iter);
	worst = 0.0;
	for (int j = 0; j < d; j++)
		worst = fmax(worst, fabs(m.coef[j] - truth[j]));
	CHECK(worst < 0.05);
	FreeModel(&m);
	free(x);
	free(y);
}

int
main(void)
{
	TestAgainstSklearn();
	TestConstantTarget();
	TestOneRow();
	TestInterpolates();
	TestRankDeficientLarge();
	TestBadArguments();
	TestCancel();
	if (getenv("ML_LINEAR_BENCH") != NULL)
		Benchmark();
	UNIT_DONE("ml_linear");
}
